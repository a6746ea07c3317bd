import * as v from "valibot";
import type { FormField } from "./definition-schema.ts";
import { fieldValueSchema } from "./field-schema.ts";
import type { DefinitionProblem } from "./issues.ts";

const NUMERIC = new Set(["number", "integer"]);
const TEXTUAL = new Set(["string", "email"]);

/** Rules that span settings of a field or fields of a form; each problem names the field. */
export function checkFields(fields: readonly FormField[]): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const firstIndex = new Map<string, number>();
  fields.forEach((field, i) => {
    const at = (setting: string, message: string) => problems.push({ path: `fields[${i}].${setting}`, field: field.name, message });
    const before = problems.length;

    const seen = firstIndex.get(field.name);
    if (seen !== undefined) at("name", `duplicate field name "${field.name}" (also fields[${seen}])`);
    else firstIndex.set(field.name, i);

    if (!NUMERIC.has(field.type)) {
      if (field.min !== undefined) at("min", `only number and integer fields take min`);
      if (field.max !== undefined) at("max", `only number and integer fields take max`);
    } else if (field.min !== undefined && field.max !== undefined && field.min > field.max) {
      at("min", `min (${field.min}) is greater than max (${field.max})`);
    }

    if (!TEXTUAL.has(field.type)) {
      if (field.min_length !== undefined) at("min_length", `only string and email fields take min_length`);
      if (field.max_length !== undefined) at("max_length", `only string and email fields take max_length`);
    } else if (field.min_length !== undefined && field.max_length !== undefined && field.min_length > field.max_length) {
      at("min_length", `min_length (${field.min_length}) is greater than max_length (${field.max_length})`);
    }

    if (field.pattern !== undefined) {
      if (field.type !== "string") at("pattern", `only string fields take a pattern`);
      else {
        try {
          new RegExp(field.pattern);
        } catch (err) {
          at("pattern", `invalid regular expression: ${(err as Error).message}`);
        }
      }
    }

    if (field.type === "enum") {
      const options = field.options ?? [];
      if (options.length === 0) at("options", `enum fields need at least one option`);
      const dup = options.find((o, j) => options.indexOf(o) !== j);
      if (dup !== undefined) at("options", `duplicate option "${dup}"`);
    } else if (field.options !== undefined) {
      at("options", `only enum fields take options`);
    }

    // the default is checked last: its schema is only sound once the settings above are
    if (problems.length === before && field.default !== undefined) {
      const result = v.safeParse(fieldValueSchema(field), field.default, { abortPipeEarly: true });
      if (!result.success) at("default", `default ${JSON.stringify(field.default)} ${result.issues[0].message}`);
    }
  });
  return problems;
}

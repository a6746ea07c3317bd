import * as v from "valibot";

/** A JSON Schema object, as the OpenAPI document states it. */
export type JsonSchemaObject = Record<string, unknown>;

/**
 * Marks what a pipe accepts when a converter cannot see it (a union refined by a transform, a
 * custom check): the OpenAPI generator replaces what it read of the pipe so far with `json`.
 * Written next to the actions that enforce it, so the two are read together.
 */
export const jsonSchemaOf = <T>(json: JsonSchemaObject) => v.metadata<T, { jsonSchema: JsonSchemaObject }>({ jsonSchema: json });

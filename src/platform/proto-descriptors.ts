import protobuf from "protobufjs";
import descriptor from "protobufjs/ext/descriptor";

/**
 * FileDescriptorProtos for server reflection, built from a loaded protobufjs Root the
 * way protoc would describe the files, so Go clients (grpcurl) accept them:
 * - well-known types keep their real file (google/protobuf/struct.proto), our
 *   packages get one file each (formservice.proto);
 * - every file lists the files it references in `dependency`;
 * - map entries are named `<Field>Entry` and types are referenced by full name;
 * - google.protobuf fields get their snake_case names back (protobufjs bundles
 *   them camelCased);
 * - proto3 `optional` fields are marked proto3_optional (protobufjs writes a key
 *   its own encoder ignores).
 * protobufjs' Root#toDescriptor does none of this.
 */
export function reflectionDescriptors(root: protobuf.Root, importedTypes: ReadonlyMap<string, string>): Buffer[] {
  const files = new Map<string, FileDraft>();
  const fileOf = (top: protobuf.ReflectionObject): string => importedTypes.get(top.fullName.slice(1)) ?? packageFile(packageOf(top));

  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) {
        const name = fileOf(nested);
        let file = files.get(name);
        if (!file) files.set(name, (file = { name, pkg: packageOf(nested), messages: [], enums: [], services: [], refs: new Set() }));
        if (nested instanceof protobuf.Type) file.messages.push(typeDescriptor(nested, file.refs));
        else if (nested instanceof protobuf.Enum) file.enums.push(plain(descriptor.EnumDescriptorProto, describe(nested)));
        else file.services.push(serviceDescriptor(nested, file.refs));
      } else if (nested instanceof protobuf.Namespace) {
        visit(nested);
      }
    }
  };
  visit(root);

  const out: Buffer[] = [];
  for (const file of files.values()) {
    const dependency = [...new Set([...file.refs].map((r) => fileOf(topLevel(r))))].filter((d) => d !== file.name).sort();
    const message = descriptor.FileDescriptorProto.fromObject({
      name: file.name,
      package: file.pkg,
      dependency,
      messageType: file.messages,
      enumType: file.enums,
      service: file.services,
      syntax: "proto3",
    });
    out.push(Buffer.from(descriptor.FileDescriptorProto.encode(message).finish()));
  }
  return out;
}

interface FileDraft {
  name: string;
  pkg: string;
  messages: object[];
  enums: object[];
  services: object[];
  /** Types this file's fields and methods reference. */
  refs: Set<protobuf.ReflectionObject>;
}

type Draft = Record<string, any>;

/** Root#toDescriptor and friends come from protobufjs/ext/descriptor, which its typings do not declare. */
function describe(obj: protobuf.ReflectionObject, edition?: string): protobuf.Message {
  return (obj as unknown as { toDescriptor(edition?: string): protobuf.Message }).toDescriptor(edition);
}

/** A descriptor message as a plain object with numeric enums, to patch and re-encode. */
function plain(type: protobuf.Type, message: protobuf.Message): Draft {
  return type.toObject(message) as Draft;
}

const GOOGLE = "google.protobuf";
const NON_PACKABLE = new Set([9 /* string */, 10 /* group */, 11 /* message */, 12 /* bytes */]);

function packageOf(obj: protobuf.ReflectionObject): string {
  let ns = obj.parent;
  while (ns && ns instanceof protobuf.Type) ns = ns.parent;
  return ns ? ns.fullName.slice(1) : "";
}

function packageFile(pkg: string): string {
  return `${pkg || "root"}.proto`;
}

/** The top-level type a (possibly nested) type lives in: that decides its file. */
function topLevel(obj: protobuf.ReflectionObject): protobuf.ReflectionObject {
  let cur = obj;
  while (cur.parent instanceof protobuf.Type) cur = cur.parent;
  return cur;
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const lowerCamel = (name: string) => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
const upperCamel = (name: string) => lowerCamel(name).replace(/^./, (c) => c.toUpperCase());

function typeDescriptor(type: protobuf.Type, refs: Set<protobuf.ReflectionObject>): Draft {
  const d = plain(descriptor.DescriptorProto, describe(type, "proto3"));
  const google = packageOf(type) === GOOGLE;
  const nested: Draft[] = d.nestedType ?? [];
  // toDescriptor emits one map entry per map field first, then the declared nested types, in order
  const mapEntries = nested.filter((n) => n.options?.mapEntry);
  const declared = nested.filter((n) => !n.options?.mapEntry);
  let entryIndex = 0;
  d.field = (d.field ?? []).map((fd: Draft, i: number) => {
    const field = type.fieldsArray[i];
    if (!field) return fd; // extension fields follow the declared ones; we declare none
    const name = google ? snake(field.name) : field.name;
    // no json_name: Go would treat it as a custom one and grpcurl would print camelCase
    const out: Draft = { ...fd, name };
    if (field instanceof protobuf.MapField) {
      const entry = mapEntries[entryIndex++]!;
      entry.name = `${upperCamel(name)}Entry`;
      const value = entry.field?.[1];
      if (value && field.resolvedType) {
        value.typeName = field.resolvedType.fullName;
        refs.add(field.resolvedType);
      }
      out.typeName = `${type.fullName}.${entry.name}`;
    } else if (field.resolvedType) {
      out.typeName = field.resolvedType.fullName;
      refs.add(field.resolvedType);
    }
    if (field.options?.proto3_optional) out.proto3Optional = true;
    dropMeaninglessPacked(out);
    if (out.options && Object.keys(out.options).length === 0) delete out.options;
    return out;
  });
  if (d.oneofDecl && google) d.oneofDecl = d.oneofDecl.map((o: Draft) => ({ ...o, name: snake(o.name) }));
  const nestedTypes = type.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
  d.nestedType = [...mapEntries, ...declared.map((n, i) => (nestedTypes[i] ? typeDescriptor(nestedTypes[i]!, refs) : n))];
  return d;
}

/** protobufjs writes packed=false on every proto3 field it does not pack; Go refuses it on fields that cannot be packed. */
function dropMeaninglessPacked(fd: Draft): void {
  if (fd.options?.packed !== false) return;
  if (fd.label === 3 && !NON_PACKABLE.has(fd.type) && typeof fd.type === "number") return;
  const { packed: _packed, ...rest } = fd.options;
  if (Object.keys(rest).length === 0) delete fd.options;
  else fd.options = rest;
}

function serviceDescriptor(service: protobuf.Service, refs: Set<protobuf.ReflectionObject>): Draft {
  for (const m of service.methodsArray) {
    m.resolve();
    if (m.resolvedRequestType) refs.add(m.resolvedRequestType);
    if (m.resolvedResponseType) refs.add(m.resolvedResponseType);
  }
  return plain(descriptor.ServiceDescriptorProto, describe(service));
}

/** Every type name a common (bundled) proto defines, fully qualified: google.protobuf.Struct, … */
export function typeNamesOf(json: protobuf.INamespace, prefix = ""): string[] {
  const names: string[] = [];
  for (const [name, child] of Object.entries(json.nested ?? {})) {
    const fqn = prefix ? `${prefix}.${name}` : name;
    const c = child as protobuf.INamespace & { fields?: unknown; values?: unknown; methods?: unknown };
    if (c.fields !== undefined || c.values !== undefined || c.methods !== undefined) names.push(fqn);
    else names.push(...typeNamesOf(c, fqn));
  }
  return names;
}

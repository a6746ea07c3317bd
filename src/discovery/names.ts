import * as v from "valibot";

/** A service name discovery can hold: a bpm role or any other service (Consul's name rules). */
export const ServiceNameSchema = v.pipe(
  v.string("must be a service name"),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "must be a service name: letters, digits and . _ - (at most 128)"),
);

/** An instance's release, as static config or Consul `Meta.version` names it. */
export const VersionSchema = v.pipe(
  v.string("must be a version string"),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, "must be a version: letters, digits and . _ + - (at most 64)"),
);

// Validates Kubernetes objects against the Kubernetes OpenAPI schema, with the validators the npm package
// kubernetes-models generates from it (Kubernetes 1.27). Used by validate_manifests.py.
//
// Usage: node validate_k8s.js OBJECTS.json
//   OBJECTS.json: [{"source": "deploy/ (kustomize)", "object": {...}, "metadataOnly": false}, ...]
//   metadataOnly: check only `metadata` as an ObjectMeta (custom resources, whose spec is checked against
//   their CRD by the caller).
// Prints one line per problem, "<source>: <kind>/<name>: <problem>", and exits 1 when there is any, 2 on a
// usage error. Besides the schema (types, required fields, formats such as quantities), every field must be
// known to the schema: kubectl applies with strict field validation, where an unknown field is an error.
// kubernetes-models does not check that, so it is done here by recording which properties its validator
// reads (it reads every property its schema declares; maps are iterated) and reporting the others.
"use strict";

const fs = require("fs");

function modelFor(apiVersion, kind) {
  // "v1" -> kubernetes-models/v1/Kind; "apps/v1" -> kubernetes-models/apps/v1/Kind.
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z0-9]+$/.test(kind)) return null;
  const parts = apiVersion.split("/");
  if (parts.length > 2 || parts.some((p) => !/^[a-z0-9.]+$/.test(p))) return null;
  const modulePath = ["kubernetes-models", ...parts, kind].join("/");
  try {
    return require(modulePath)[kind] || null;
  } catch (e) {
    if (e.code === "MODULE_NOT_FOUND") return null;
    throw e;
  }
}

// Wraps `value` so that every property read is recorded in `seen` (a Set of JSON pointers).
function track(value, pointer, seen) {
  if (value === null || typeof value !== "object") return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== "string" || !Object.prototype.hasOwnProperty.call(target, key)) return child;
      const p = pointer + "/" + key;
      seen.add(p);
      return track(child, p, seen);
    },
  });
}

// Pointers of the fields in `value` that were never read.
function unread(value, pointer, seen, out) {
  if (value === null || typeof value !== "object") return;
  for (const key of Object.keys(value)) {
    const p = pointer + "/" + key;
    if (!seen.has(p)) {
      out.push(p);
      continue;
    }
    unread(value[key], p, seen, out);
  }
}

function validate(model, object) {
  const problems = [];
  const seen = new Set();
  try {
    // Model's constructor copies the top-level fields; validate() walks the copy. Track that copy.
    const instance = new model(object);
    const tracked = track(instance, "", seen);
    model.prototype.validate.call(tracked);
  } catch (e) {
    problems.push(String(e.message || e));
  }
  if (problems.length === 0) {
    const unknown = [];
    unread(object, "", seen, unknown);
    for (const p of unknown) problems.push(`unknown field ${p.replace(/^\//, "").replace(/\//g, ".")}`);
  }
  return problems;
}

function main() {
  if (process.argv.length !== 3) {
    console.error("usage: node validate_k8s.js OBJECTS.json");
    process.exit(2);
  }
  const entries = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const objectMeta = require("@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta").ObjectMeta;
  let failures = 0;
  let checked = 0;
  for (const { source, object, metadataOnly } of entries) {
    const id = `${source}: ${object.kind}/${(object.metadata && object.metadata.name) || "?"}`;
    let problems;
    if (metadataOnly) {
      problems = validate(objectMeta, object.metadata || {}).map((p) => "metadata: " + p);
    } else {
      const model = modelFor(object.apiVersion, object.kind);
      problems = model ? validate(model, object) : [`no Kubernetes schema for ${object.apiVersion} ${object.kind}`];
    }
    checked++;
    for (const p of problems) {
      console.log(`${id}: ${p}`);
      failures++;
    }
  }
  console.error(`validate_k8s.js: ${checked} objects checked against the Kubernetes 1.27 schema, ${failures} problems`);
  process.exit(failures ? 1 : 0);
}

main();

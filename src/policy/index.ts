// Webhook-less mode: templates compiled into MutatingAdmissionPolicy and
// ValidatingAdmissionPolicy objects (admissionregistration.k8s.io/v1). Pure, like the engine.
import type { Template } from '../model/template.js';
import { compileTemplate, type PolicyOptions } from './compile.js';

export { compileTemplate, policyName, type Compiled, type PolicyOptions } from './compile.js';

/**
 * The API server stores each object in etcd, whose default request limit is 1.5 MiB; a policy
 * near it would be refused or crowd the store, so a compiled object must stay under 1 MiB.
 */
export const MAX_OBJECT_BYTES = 1024 * 1024;

/** Compiles every template; all the reasons any of them cannot be compiled, or every object. */
export function compilePolicies(templates: Template[], options: PolicyOptions): { objects: Record<string, unknown>[]; problems: string[] } {
  const objects: Record<string, unknown>[] = [];
  const problems: string[] = [];
  for (const template of templates) {
    const compiled = compileTemplate(template, options);
    if (!compiled.ok) {
      problems.push(...compiled.problems);
      continue;
    }
    for (const object of compiled.objects) {
      const size = Buffer.byteLength(JSON.stringify(object));
      if (size > MAX_OBJECT_BYTES)
        problems.push(
          `${template.name}: the ${String(object.kind)} would be ${size} bytes, over the ${MAX_OBJECT_BYTES} bytes an API object can reasonably be`,
        );
    }
    objects.push(...compiled.objects);
  }
  return { objects, problems };
}

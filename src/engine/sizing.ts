// Per-pod sizing of a template's containers: `<template>.podpattern.dev/cpu` and `/memory` set the
// request of each of the template's long-running containers, within the bounds the template
// declares (`sizing`); a limit the template sets keeps its ratio to the request. The values are
// checked with the other parameters (params.ts) and applied when the template is rendered
// (render.ts), so what provenance renders again for a pod is what was injected into it.
import { parameterKey } from '../model/keys.js';
import { formatQuantity, parseQuantity } from '../model/quantity.js';
import type { TemplateSpec, Template } from '../model/template.js';
import { printable } from './bounds.js';
import type { Rendered } from './render.js';
import type { Problem } from './types.js';
import { SIZED_RESOURCES, type SizedResource } from '../template/sizing.js';

export { isSizingParameter } from '../template/sizing.js';

/** The sizing parameters a pod sets for `template`, checked against its bounds: set in `values`, or a problem each. */
export function resolveSizing(
  template: Template,
  raw: Map<string, string> | undefined,
  values: Map<string, string | number | boolean>,
  problems: Problem[],
): void {
  for (const resource of SIZED_RESOURCES) {
    const text = raw?.get(resource);
    if (text === undefined) continue;
    const key = parameterKey(template.name, resource);
    const bounds = template.spec.sizing?.[resource];
    const fault = bounds === undefined ? undefined : sizingFault(text, bounds, resource);
    if (bounds === undefined) {
      problems.push({
        code: 'invalid-parameter',
        template: template.name,
        message: `${key}: template ${template.name} declares no sizing.${resource} bounds, so its ${resource} is not set per pod; remove the annotation`,
      });
    } else if (fault !== undefined) {
      problems.push({ code: 'invalid-parameter', template: template.name, message: `${key}: '${printable(text)}' ${fault}` });
    } else values.set(resource, text);
  }
}

function sizingFault(text: string, bounds: { min: string; max: string }, resource: SizedResource): string | undefined {
  const value = parseQuantity(text);
  if (value === undefined) return `is not a Kubernetes quantity (${resource === 'cpu' ? 'e.g. 250m or 1' : 'e.g. 64Mi or 1Gi'})`;
  if (value < (parseQuantity(bounds.min) as bigint))
    return `is below the template's minimum ${resource} request ${bounds.min} (sizing.${resource}.min)`;
  if (value > (parseQuantity(bounds.max) as bigint))
    return `is above the template's maximum ${resource} request ${bounds.max} (sizing.${resource}.max)`;
  return undefined;
}

/** Sets the requests (and limits, in the template's ratio) of the rendered long-running containers. */
export function applySizing(rendered: Rendered, spec: TemplateSpec, values: ReadonlyMap<string, string | number | boolean>): void {
  if (spec.sizing === undefined) return;
  for (const resource of SIZED_RESOURCES) {
    const text = values.get(resource);
    if (typeof text !== 'string') continue;
    const request = parseQuantity(text) as bigint;
    rendered.containers.forEach((container, i) => {
      const declared = spec.containers[i]?.resources;
      const base = parseQuantity(String(declared?.requests?.[resource] ?? ''));
      const limit = parseQuantity(String(declared?.limits?.[resource] ?? ''));
      const resources = (container.resources ??= {});
      resources.requests = { ...resources.requests, [resource]: formatQuantity(request, resource) };
      // The catalog holds each sized container to a positive request, so the ratio is defined.
      if (limit !== undefined && base !== undefined && base > 0n)
        resources.limits = { ...resources.limits, [resource]: formatQuantity((request * limit + base - 1n) / base, resource) };
    });
  }
}

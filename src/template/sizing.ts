// The catalog's rules for a template's `sizing`: the bounds of the per-pod cpu and memory
// requests (`<template>.podpattern.dev/cpu`, `/memory`; the engine applies them, engine/sizing.ts).
import { parseQuantity } from '../model/quantity.js';
import type { V1Container } from '#kube';
import type { SizingBounds, TemplateSpec } from '../model/template.js';

export const SIZED_RESOURCES = ['cpu', 'memory'] as const;
export type SizedResource = (typeof SIZED_RESOURCES)[number];

/** `cpu` and `memory`: the parameters every template has, which none may declare. */
export function isSizingParameter(name: string): name is SizedResource {
  return name === 'cpu' || name === 'memory';
}

/** The catalog's rules for `sizing`, as `path: problem`. */
export function sizingProblems(spec: TemplateSpec): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(spec.parameters)) {
    if (isSizingParameter(name))
      problems.push(
        `spec.parameters.${name}: '${name}' is the sizing parameter every template has; declare its bounds under spec.sizing.${name} instead`,
      );
  }
  for (const resource of SIZED_RESOURCES) problems.push(...boundsProblems(spec, resource));
  return problems;
}

function boundsProblems(spec: TemplateSpec, resource: SizedResource): string[] {
  const bounds = spec.sizing?.[resource];
  if (bounds === undefined) return [];
  const problems: string[] = [];
  const at = `spec.sizing.${resource}`;
  const min = parseQuantity(bounds.min);
  const max = parseQuantity(bounds.max);
  if (min === undefined || min <= 0n) problems.push(`${at}.min: '${bounds.min}' is not a positive Kubernetes quantity`);
  if (max === undefined || max <= 0n) problems.push(`${at}.max: '${bounds.max}' is not a positive Kubernetes quantity`);
  if (min !== undefined && max !== undefined && min > max) problems.push(`${at}: min ${bounds.min} is above max ${bounds.max}`);
  if (spec.containers.length === 0) problems.push(`${at}: the template has no long-running containers to size`);
  for (const container of spec.containers) problems.push(...requestProblems(container, resource, bounds, [min, max]));
  return problems;
}

/** A sized container must request the resource, within the bounds (`range`: the bounds read, where readable). */
function requestProblems(
  container: V1Container,
  resource: SizedResource,
  bounds: SizingBounds,
  [min, max]: [bigint | undefined, bigint | undefined],
): string[] {
  const at = `spec.sizing.${resource}`;
  const declared = container.resources?.requests?.[resource];
  const request = parseQuantity(String(declared ?? ''));
  if (request === undefined || request <= 0n)
    return [
      `${at}: container '${container.name}' must request ${resource} (resources.requests.${resource}): its limit keeps its ratio to that request`,
    ];
  if ((min !== undefined && request < min) || (max !== undefined && request > max))
    return [`${at}: container '${container.name}' requests ${String(declared)}, outside ${bounds.min} to ${bounds.max}`];
  return [];
}

// Validates pods against the Kubernetes Pod schema with kubernetes-models (a maintained,
// generated-from-OpenAPI model library), so a mutated pod is one the API server would accept
// structurally.
import { Pod } from 'kubernetes-models/v1/Pod';

export function podSchemaErrors(pod: unknown): string | undefined {
  try {
    new Pod(pod as ConstructorParameters<typeof Pod>[0]).validate();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

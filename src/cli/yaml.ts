// The CLI's one YAML reader and one YAML writer. kubectl reads YAML 1.1 (go-yaml v2, through
// sigs.k8s.io/yaml), where `0644` is octal 420 and a plain `on` or `yes` is a boolean, so the
// CLI reads manifests the way kubectl would and writes output that means the same to kubectl
// and to YAML 1.2 readers: strings that either would read as something else are quoted.
import { Document, parseAllDocuments, type Tags } from 'yaml';

/**
 * YAML 1.1 as go-yaml v2 reads it: booleans (y, yes, on…), octal `0644`, merge keys; but no
 * timestamps (go-yaml v2 gives strings for them when decoding to untyped values) and no
 * base-60 numbers (`12:30`), which go-yaml v2 does not implement.
 */
function kubectlTags(tags: Tags): Tags {
  return tags.filter((tag) =>
    typeof tag === 'string'
      ? !['timestamp', 'intTime', 'floatTime'].includes(tag)
      : !(tag.tag === 'tag:yaml.org,2002:timestamp' || ('format' in tag && tag.format === 'TIME')),
  );
}

/**
 * The writer's tags: YAML 1.1's, except that the merge tag never claims a string. The yaml
 * package otherwise writes the string `<<` through the merge tag, unquoted, and a YAML 1.1
 * reader (kubectl) then takes an annotation named `<<` for a merge key. Left as a tag that
 * only tests, it makes the writer quote `<<` like any other string a reader would resolve to
 * another type.
 */
function writerTags(tags: Tags): Tags {
  return tags.map((tag) => (typeof tag === 'object' && tag.tag === 'tag:yaml.org,2002:merge' ? { ...tag, identify: () => false } : tag));
}

export class YamlError extends Error {}

/** Every document of a multi-document YAML (or JSON) text as plain values; empty ones are dropped. */
export function readDocuments(text: string): unknown[] {
  const values: unknown[] = [];
  for (const [index, document] of parseAllDocuments(text, { version: '1.1', customTags: kubectlTags }).entries()) {
    if (document.errors.length > 0) throw new YamlError(`document ${index + 1}: ${document.errors[0]?.message.split('\n')[0]}`);
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

/**
 * One document as YAML a YAML 1.1 reader (kubectl) and a YAML 1.2 reader both read back as
 * `value`: the 1.1 schema quotes "on", "0644", "12:30" and the like, and `compat: 'core'`
 * also quotes what YAML 1.2 reads differently (`0o644`). No `%YAML` directive, which
 * kubectl's document splitter would take for a document of its own.
 */
export function writeDocument(value: unknown): string {
  return new Document(value, { version: '1.1', compat: 'core', aliasDuplicateObjects: false, customTags: writerTags }).toString({
    lineWidth: 0,
    directives: false,
  });
}

// The compiler's output read back: every expression it writes must parse as CEL, or nothing is
// printed. @marcbachmann/cel-js parses CEL but not its typed object literals
// (`Object.spec.containers{name: "x"}`, which the mutating policies need), so those are read as
// the maps they are shaped like (`{"name": "x"}`) by a scan that knows CEL's double-quoted
// strings, the only strings the compiler writes (cel.ts quote). A field name that is not an
// identifier followed by a colon, or any other text the scan does not expect, fails the parse.
// Nor may an expression be longer than the API server reads.
import { parse } from '@marcbachmann/cel-js';

/**
 * The most code points the API server's CEL parser takes in one expression; kube-apiserver
 * refuses a policy with a longer one ("expression code point size exceeds limit ... limit 100000").
 */
export const MAX_EXPRESSION_CODE_POINTS = 100_000;

/** Every expression in the objects (any string under expression or messageExpression), with where it is. */
function expressions(objects: Record<string, unknown>[]): { at: string; expression: string }[] {
  const out: { at: string; expression: string }[] = [];
  const visit = (value: unknown, at: string): void => {
    if (Array.isArray(value)) value.forEach((item, i) => visit(item, `${at}[${i}]`));
    else if (value !== null && typeof value === 'object')
      for (const [key, item] of Object.entries(value)) {
        if ((key === 'expression' || key === 'messageExpression') && typeof item === 'string')
          out.push({ at: `${at}.${key}`, expression: item });
        else visit(item, `${at}.${key}`);
      }
  };
  for (const object of objects) visit(object.spec, `${String(object.kind)} ${String((object.metadata as { name?: string }).name)}: spec`);
  return out;
}

/** The problems of the expressions in `objects` that do not parse. */
export function unparsable(objects: Record<string, unknown>[]): string[] {
  return expressions(objects).flatMap(({ expression }) => {
    const problem = parseProblem(expression);
    return problem === undefined
      ? []
      : [`${problem} in ${JSON.stringify(expression.length > 120 ? `${expression.slice(0, 120)}…` : expression)}`];
  });
}

/** Expressions the API server would refuse for their length, named by where they are. */
export function tooLong(objects: Record<string, unknown>[]): string[] {
  return expressions(objects).flatMap(({ at, expression }) => {
    const size = [...expression].length;
    return size <= MAX_EXPRESSION_CODE_POINTS
      ? []
      : [`${at} would be ${size} code points, over the ${MAX_EXPRESSION_CODE_POINTS} the API server accepts in one expression`];
  });
}

/** Why `expression` does not parse, or undefined when it does. */
export function parseProblem(expression: string): string | undefined {
  try {
    parse(asMaps(expression));
    return undefined;
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}

const IDENTIFIER = /[_a-zA-Z][_a-zA-Z0-9]*/y;
/** A typed object literal's type: identifiers joined by dots, right before its brace. */
const TYPE_NAME = /[_a-zA-Z][_a-zA-Z0-9]*(\.[_a-zA-Z][_a-zA-Z0-9]*)*\{/y;

/** `expression` with each typed object literal written as a map with quoted keys. */
function asMaps(expression: string): string {
  let out = '';
  // What each open bracket is: a typed literal's brace, a map's, or ( and [.
  const open: ('typed' | 'other')[] = [];
  let fieldNext = false;
  let at = 0;
  while (at < expression.length) {
    const char = expression[at] as string;
    if (char === '"') {
      const end = stringEnd(expression, at);
      out += expression.slice(at, end);
      at = end;
      continue;
    }
    if (fieldNext && !/\s/.test(char)) {
      fieldNext = false;
      if (char !== '}') {
        const name = fieldName(expression, at);
        out += `"${name}":`;
        at += name.length + 1;
        continue;
      }
    }
    TYPE_NAME.lastIndex = at;
    const typed =
      /[_a-zA-Z]/.test(char) && (at === 0 || !/[_a-zA-Z0-9.]/.test(expression[at - 1] as string)) ? TYPE_NAME.exec(expression) : null;
    if (typed !== null) {
      out += '{';
      open.push('typed');
      fieldNext = true;
      at += typed[0].length;
      continue;
    }
    if (char === '{' || char === '(' || char === '[') open.push('other');
    else if (char === '}' || char === ')' || char === ']') open.pop();
    else if (char === ',' && open[open.length - 1] === 'typed') fieldNext = true;
    out += char;
    at += 1;
  }
  return out;
}

/** The field name at `at`, which must be an identifier followed by a colon. */
function fieldName(expression: string, at: number): string {
  IDENTIFIER.lastIndex = at;
  const name = IDENTIFIER.exec(expression)?.[0];
  if (name === undefined || expression[at + name.length] !== ':') throw new Error(`a field name that is not an identifier at ${at}`);
  return name;
}

/** The index after the double-quoted string that starts at `start` (backslash escapes skipped). */
function stringEnd(text: string, start: number): number {
  let at = start + 1;
  while (at < text.length) {
    if (text[at] === '\\') at += 2;
    else if (text[at] === '"') return at + 1;
    else at += 1;
  }
  throw new Error(`a string that does not end, from ${start}`);
}

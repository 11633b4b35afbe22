// Copies the non-TypeScript files the package needs at run time (the built-in catalog)
// next to the compiled JavaScript, so dist/ resolves them the same way src/ does.
import { cpSync, mkdirSync } from 'node:fs';

mkdirSync('dist/src/catalog/builtin', { recursive: true });
cpSync('src/catalog/builtin', 'dist/src/catalog/builtin', { recursive: true });

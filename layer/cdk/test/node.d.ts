// The few Node.js APIs the tests use, declared here instead of adding @types/node (and what it
// pulls in) to the dependencies. Node 18 and later provide all of them.

declare module 'node:test' {
  export interface TestContext {
    skip(message?: string): void;
  }
  export function describe(name: string, fn: () => void): void;
  export function test(name: string, fn: (t: TestContext) => void | Promise<void>): void;
}

declare module 'node:assert' {
  interface Assert {
    (value: unknown, message?: string): asserts value;
    ok(value: unknown, message?: string): asserts value;
    equal(actual: unknown, expected: unknown, message?: string): void;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    deepEqual(actual: unknown, expected: unknown, message?: string): void;
    match(value: string, pattern: RegExp, message?: string): void;
    doesNotMatch(value: string, pattern: RegExp, message?: string): void;
    throws(fn: () => unknown, expected?: RegExp, message?: string): void;
    doesNotThrow(fn: () => unknown, message?: string): void;
  }
  export const strict: Assert;
}

declare module 'node:fs' {
  export function mkdtempSync(prefix: string): string;
  export function writeFileSync(path: string, data: string): void;
  export function readFileSync(path: string, encoding: 'utf8'): string;
  export function existsSync(path: string): boolean;
  export function rmSync(path: string, options: { recursive?: boolean; force?: boolean }): void;
}

declare module 'node:os' {
  export function tmpdir(): string;
}

declare module 'node:path' {
  export function join(...parts: string[]): string;
}

declare const __dirname: string;
declare const process: {
  readonly env: { readonly [name: string]: string | undefined };
  on(event: 'exit', listener: () => void): void;
};

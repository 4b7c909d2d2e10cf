// Lint rules: typescript-eslint's type-aware recommended set, so floating promises and
// unsafe `any` are caught where they matter most (webhook handlers and workers).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "bench/results/**", "docker/**/rootfs/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": ["error", {
        allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] }],
      }],
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  { files: ["**/*.js", "**/*.mjs"], ...tseslint.configs.disableTypeChecked },
  // Bundled agents run on Node inside the sandbox image.
  { files: ["agents/**/*.mjs", "test/agents/**/*.mjs"], languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly" } } },
  // The dashboard's one script runs in the viewer's browser.
  { files: ["src/web/static/**/*.js"], languageOptions: { sourceType: "script", globals: { window: "readonly", document: "readonly", EventSource: "readonly", setTimeout: "readonly" } } },
);

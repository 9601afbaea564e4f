import * as effect from "@effect/eslint-plugin"
import js from "@eslint/js"
import { defineConfig, globalIgnores } from "eslint/config"
import tseslint from "typescript-eslint"

// `npm run lint` checks, `npm run lint:fix` rewrites in place. Formatting is dprint's, run as the
// `@effect/dprint` rule as in Effect's own repository, set to the style this code is written in:
// two spaces, double quotes, no semicolons, no trailing commas, `(x) =>`. Lines are wider than
// Effect's 120: the code was written to about 150, and 120 would rewrap some 6,000 lines of it. Imports
// keep the order they are written in.
// No type-aware rules: on this code they found nothing and made a run six times slower.
export default defineConfig(
  globalIgnores(["**/node_modules/", "**/dist/", "**/coverage/", "**/.vitest-tmp/", "**/scratch/"]),
  {
    files: ["**/*.{ts,mts,cts,js,mjs,cjs}"],
    extends: [js.configs.recommended, tseslint.configs.recommended, effect.configs.dprint],
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 160,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force",
          "module.sortImportDeclarations": "maintain",
          "module.sortExportDeclarations": "maintain"
        }
      }],
      "@typescript-eslint/no-unused-vars": ["error", {
        argsIgnorePattern: "^_",
        varsIgnorePattern: "^_",
        caughtErrorsIgnorePattern: "^_"
      }],
      // Type-only imports say so (`import type`, or `type` per name); `import("...")` types stay
      // allowed: the CLI uses them to name what it loads lazily.
      "@typescript-eslint/consistent-type-imports": ["error", {
        fixStyle: "inline-type-imports",
        disallowTypeAnnotations: false
      }],
      // Effect idioms: `Effect.gen` bodies without a yield, `any` in type-level positions
      // (`Schema.Schema<any, any>`), `interface X extends Schema.Type<typeof X> {}`.
      "require-yield": "off",
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": ["error", { allowInterfaces: "with-single-extends" }],
      "object-shorthand": "error"
    }
  },
  {
    // The few plain JavaScript files (the CLI's bin and build script, this file) run on Node.
    files: ["**/*.{js,mjs,cjs}"],
    languageOptions: {
      globals: { console: "readonly", process: "readonly", Buffer: "readonly", URL: "readonly" }
    }
  },
  {
    // House style: sources import Effect modules by deep path (`effect/Effect`), not the barrel.
    files: ["packages/*/src/**/*.ts"],
    rules: {
      "@effect/no-import-from-barrel-package": ["error", {
        packageNames: ["effect", "@effect/platform", "@effect/platform-node", "@effect/cli", "@effect/experimental", "@effect/sql", "@effect/sql-pg"]
      }]
    }
  }
)

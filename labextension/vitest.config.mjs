import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Model, protocol and client tests run in Node; tests of what we draw
    // (the comments panel, markers, cell presence, the bell) say
    // `// @vitest-environment jsdom` at their top and get a DOM (jsdom: the
    // DOM JupyterLab's own tests use), with what jsdom lacks added by
    // domsetup.ts.
    environment: 'node',
    include: ['src/__tests__/**/*.test.ts'],
    setupFiles: ['src/__tests__/domsetup.ts'],
    server: {
      deps: {
        // (ES modules that import without file extensions, as bundlers allow:
        // Vite resolves them, Node's loader does not)
        inline: [/@jupyter\/web-components/, /@microsoft\/fast-/]
      }
    }
  }
});

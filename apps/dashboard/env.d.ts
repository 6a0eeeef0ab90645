/// <reference types="vite/client" />
// For plain TypeScript tools (eslint's type checker): vue-tsc reads the .vue files themselves.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

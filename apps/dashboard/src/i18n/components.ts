/** Words of the dashboard's components area (see index.ts). */
export const components = {
  en: {},
  es: {},
};

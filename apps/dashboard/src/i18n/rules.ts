/** Words of the dashboard's rules area (see index.ts). */
export const rules = {
  en: {},
  es: {},
};

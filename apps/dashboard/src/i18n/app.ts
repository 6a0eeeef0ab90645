/** Words of the dashboard's app area (see index.ts). */
export const app = {
  en: {},
  es: {},
};

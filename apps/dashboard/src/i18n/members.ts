/** Words of the dashboard's members area (see index.ts). */
export const members = {
  en: {},
  es: {},
};

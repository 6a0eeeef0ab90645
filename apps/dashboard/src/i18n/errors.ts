/** Words of the dashboard's errors area (see index.ts). */
export const errors = {
  en: {},
  es: {},
};

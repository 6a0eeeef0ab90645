/** Words of the dashboard's join area (see index.ts). */
export const join = {
  en: {},
  es: {},
};

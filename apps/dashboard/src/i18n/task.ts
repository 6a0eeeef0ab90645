/** Words of the dashboard's task area (see index.ts). */
export const task = {
  en: {},
  es: {},
};

/** Words of the dashboard's board area (see index.ts). */
export const board = {
  en: {},
  es: {},
};

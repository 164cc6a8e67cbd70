export const APP_CONFIG = 'APP:CONFIG';

import { Logger } from '@nestjs/common';

// Test output shows failures, not the state changes the app logs; STREAMGATE_TEST_LOGS=1 brings them back.
if (!process.env.STREAMGATE_TEST_LOGS) Logger.overrideLogger(false);

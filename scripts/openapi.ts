/**
 * Writes docs/openapi.json, the OpenAPI document of streamgate's HTTP API,
 * from the decorators of the code as it is now.
 *
 *   npm run openapi           write docs/openapi.json
 *   npm run openapi -- --check  fail if docs/openapi.json is out of date
 *
 * The app is built in memory on the in-memory drivers and never listens, so
 * no server is needed. The same code always gives the same bytes.
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { createApiDocument } from '../src/api-docs';
import { AppModule } from '../src/app.module';
import { loadAppConfig } from '../src/config/app.config';

export const OPENAPI_FILE = join(__dirname, '..', 'docs', 'openapi.json');

/** The document as docs/openapi.json holds it. */
export async function generateOpenApiJson(): Promise<string> {
  const config = loadAppConfig({
    JWT_SECRET: 'openapi-generation-only-openapi-generation-only',
    HOST: '127.0.0.1',
    PORT: '0',
  });
  const app = await NestFactory.create(AppModule.register(config), {
    logger: false,
  });
  try {
    // Two-space JSON is also what Prettier leaves as it is.
    return `${JSON.stringify(createApiDocument(app), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const generated = await generateOpenApiJson();
  if (check) {
    const committed = readFileSync(OPENAPI_FILE, 'utf8');
    if (committed !== generated) {
      console.error(
        'docs/openapi.json is out of date: run `npm run openapi` and commit it.',
      );
      process.exit(1);
    }
    console.log('docs/openapi.json is up to date.');
    return;
  }
  writeFileSync(OPENAPI_FILE, generated);
  console.log(`Wrote ${OPENAPI_FILE}.`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

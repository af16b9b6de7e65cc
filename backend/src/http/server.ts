/** Starts the billing HTTP service (NestJS on Express) for a composed Billing; returns its URL and a close function. */
import "reflect-metadata";
import { NestFactory } from "@nestjs/core";
import type { Billing } from "../billing.js";
import { DomainErrorFilter } from "./filter.js";
import { appModule } from "./modules.js";

export async function startHttp(
  b: Billing,
  opts: { host: string; port: number },
): Promise<{ url: string; close: () => Promise<void> }> {
  const app = await NestFactory.create(appModule(b), { bodyParser: false, logger: false, abortOnError: false });
  app.useGlobalFilters(new DomainErrorFilter(b.log));
  app.enableShutdownHooks();
  await app.listen(opts.port, opts.host);
  const url = (await app.getUrl()).replace("[::1]", "127.0.0.1");
  b.log.info({ url, transport: b.transport.kind }, "billing listening");
  return { url, close: () => app.close() };
}

/**
 * NestJS modules of the billing service: plans, orders, payments, provisioning, health. Bodies are read raw (Nest's
 * body parser is off) so the notification signature is checked over the exact bytes and size limits are ours.
 */

import type { IncomingMessage as Request, ServerResponse as Response } from "node:http";
import { Controller, type DynamicModule, Get, Header, Inject, Module, Param, Post, Req, Res } from "@nestjs/common";
import { readBody, readJson, sendJson } from "@twilight/core";
import type { Billing } from "../billing.js";
import { PLAN_CODES, PLANS } from "../plans.js";
import { checkoutPage } from "./checkout.js";

export const BILLING = Symbol("billing");

@Controller("v1/plans")
class PlansController {
  @Get()
  list() {
    return { plans: PLAN_CODES.map((c) => PLANS[c]) };
  }
}

@Controller()
class OrdersController {
  constructor(@Inject(BILLING) private readonly b: Billing) {}

  @Post("v1/orders")
  async create(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const out = await this.b.orders.create(await readJson(req, 16 * 1024));
    res.statusCode = 201;
    return out;
  }

  @Get("v1/orders/:id")
  @Header("cache-control", "no-store")
  view(@Param("id") id: string) {
    return this.b.orders.view(id);
  }

  @Get("checkout/:id")
  @Header("content-type", "text/html; charset=utf-8")
  @Header("cache-control", "no-store")
  async checkout(@Param("id") id: string) {
    const o = await this.b.store.getOrder(id);
    if (!o) return this.b.orders.view(id);
    return checkoutPage({
      order_id: o.id,
      plan: o.plan,
      amount_fen: o.amount_fen,
      status: o.status,
      code_url: o.status === "created" ? o.code_url : null,
    });
  }
}

@Controller("v1/payments/wechat")
class PaymentsController {
  constructor(@Inject(BILLING) private readonly b: Billing) {}

  @Post("notify")
  async notify(@Req() req: Request, @Res() res: Response) {
    let raw: Buffer;
    try {
      raw = await readBody(req, this.b.cfg.env.BILLING_NOTIFY_MAX_BYTES);
    } catch {
      const a = this.b.notify.refuse("oversized", "body too large");
      sendJson(res, a.status, a.body);
      return;
    }
    const a = await this.b.notify.handle(req.headers, raw.toString("utf8"));
    if (a.body) sendJson(res, a.status, a.body);
    else res.writeHead(a.status).end();
  }
}

@Controller()
class HealthController {
  constructor(@Inject(BILLING) private readonly b: Billing) {}

  @Get("health")
  async health() {
    await this.b.store.db.selectFrom("billing_orders").select("id").limit(1).execute();
    return { status: "ok", transport: this.b.transport.kind };
  }

  @Get("metrics")
  async metrics(@Res() res: Response) {
    res.setHeader("content-type", this.b.metrics.registry.contentType);
    res.end(await this.b.metrics.registry.metrics());
  }
}

/** Provisioning has no routes: it owns the outbox worker and the reconciler, started and stopped with the app. */
@Module({})
class ProvisioningModule {
  constructor(@Inject(BILLING) private readonly b: Billing) {}
  onApplicationBootstrap() {
    this.b.start();
  }
  async onApplicationShutdown() {
    await this.b.stop();
  }
}

@Module({})
class AppModule {}

/** The root module for one composed Billing: each feature module gets the Billing as its provider. */
export function appModule(b: Billing): DynamicModule {
  const provider = { provide: BILLING, useValue: b };
  const mod = (cls: new (...a: never[]) => unknown, controllers: (new (...a: never[]) => unknown)[]): DynamicModule => ({
    module: cls,
    providers: [provider],
    controllers,
  });
  return {
    module: AppModule,
    imports: [
      mod(PlansModule, [PlansController]),
      mod(OrdersModule, [OrdersController]),
      mod(PaymentsModule, [PaymentsController]),
      mod(ProvisioningModule, []),
      mod(HealthModule, [HealthController]),
    ],
  };
}

@Module({})
class PlansModule {}
@Module({})
class OrdersModule {}
@Module({})
class PaymentsModule {}
@Module({})
class HealthModule {}

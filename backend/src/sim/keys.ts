/**
 * Key material for the simulator and its merchant: the merchant's RSA key and certificate serial, the platform's
 * certificate (a real X.509 from Debian's openssl; certificate mode) and the platform public key `PUB_KEY_ID_...`
 * (public-key mode), the APIv3 key, mchid and appid. Written to / read from one JSON file so a backend can be pointed
 * at a running simulator.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nonceStr } from "../wechatpay/protocol.js";

export interface SimKeys {
  mchid: string;
  appid: string;
  /** 32 ASCII characters. */
  apiV3Key: string;
  merchant: { serial: string; privateKeyPem: string; publicKeyPem: string };
  platformCert: { serial: string; privateKeyPem: string; certPem: string };
  platformPubKey: { id: string; privateKeyPem: string; publicKeyPem: string };
}

function rsaPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** A self-signed X.509 certificate for `privateKeyPem`, with a 20-byte serial, made by `openssl req -x509`. */
function selfSignedCert(privateKeyPem: string, cn: string): string {
  const dir = mkdtempSync(join(tmpdir(), "wxpay-sim-"));
  try {
    const keyFile = join(dir, "key.pem");
    writeFileSync(keyFile, privateKeyPem, { mode: 0o600 });
    const serial = `0x${randomBytes(20).toString("hex").replace(/^./, "4")}`;
    const args = ["req", "-x509", "-key", keyFile, "-out", join(dir, "cert.pem"), "-days", "30", "-subj", `/CN=${cn}`];
    execFileSync("openssl", [...args, "-set_serial", serial], { stdio: "ignore" });
    return readFileSync(join(dir, "cert.pem"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function generateSimKeys(opts: { mchid?: string; appid?: string } = {}): SimKeys {
  const merchant = rsaPair();
  const cert = rsaPair();
  const pub = rsaPair();
  const certPem = selfSignedCert(cert.privateKeyPem, "Tenpay.com Sim Platform");
  return {
    mchid: opts.mchid ?? "1900000109",
    appid: opts.appid ?? "wxd678efh567hg6787",
    apiV3Key: nonceStr(32),
    merchant: { serial: randomBytes(20).toString("hex").toUpperCase(), ...merchant },
    platformCert: { serial: new X509Certificate(certPem).serialNumber.toUpperCase(), privateKeyPem: cert.privateKeyPem, certPem },
    platformPubKey: { id: `PUB_KEY_ID_0119${randomBytes(14).toString("hex").toUpperCase()}`, ...pub },
  };
}

export function writeSimKeys(file: string, keys: SimKeys): void {
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
}

export function readSimKeys(file: string): SimKeys {
  return JSON.parse(readFileSync(file, "utf8")) as SimKeys;
}

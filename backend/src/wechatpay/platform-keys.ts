/**
 * WeChat Pay's verification keys by serial: platform certificates (serial = certificate serial, certificate mode) and
 * the WeChat Pay public key (serial = `PUB_KEY_ID_...`, public-key mode). Both can be configured at once during a
 * migration; whatever `Wechatpay-Serial` names is looked up here, and an unknown serial is refused.
 */
import { createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { decryptResource, type EncryptedResource } from "./protocol.js";

export class PlatformKeys {
  private readonly keys = new Map<string, { key: KeyObject; notAfter?: number }>();

  /** Public-key mode: the key downloaded from the merchant platform with its `PUB_KEY_ID_...`. */
  addPublicKey(id: string, pem: string): this {
    this.keys.set(id, { key: createPublicKey(pem) });
    return this;
  }

  /** Certificate mode: a platform certificate (PEM); its serial is read from the certificate. */
  addCertificate(pem: string): string {
    const cert = new X509Certificate(pem);
    const serial = cert.serialNumber.toUpperCase();
    this.keys.set(serial, { key: cert.publicKey, notAfter: Date.parse(cert.validTo) });
    return serial;
  }

  /** Adds the certificates of a `GET /v3/certificates` answer, decrypting each with the APIv3 key. */
  addEncryptedCertificates(data: { serial_no: string; encrypt_certificate: EncryptedResource }[], apiV3Key: string): string[] {
    return data.map((c) => this.addCertificate(decryptResource(c.encrypt_certificate, apiV3Key)));
  }

  /** The key a serial names, or undefined when unknown or expired. */
  get(serial: string, now = Date.now()): KeyObject | undefined {
    const k = this.keys.get(serial.toUpperCase()) ?? this.keys.get(serial);
    if (!k || (k.notAfter !== undefined && k.notAfter < now)) return undefined;
    return k.key;
  }

  serials(): string[] {
    return [...this.keys.keys()];
  }
}

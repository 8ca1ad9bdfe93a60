package dev.sluice.worker.pool;

import redis.clients.jedis.SslOptions;
import redis.clients.jedis.SslVerifyMode;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

/**
 * TLS options that trust the certificates of one PEM file ({@code redis.tls_ca_file}) and no others, with full
 * verification of the server's name.
 */
final class TlsTrust {
    private static final char[] IN_MEMORY = "sluice".toCharArray();

    private TlsTrust() {
    }

    static SslOptions trusting(Path caFile) {
        byte[] store = pkcs12(caFile);
        return SslOptions.builder()
                .truststore(() -> new ByteArrayInputStream(store), IN_MEMORY)
                .trustStoreType("PKCS12")
                .sslVerifyMode(SslVerifyMode.FULL)
                .build();
    }

    private static byte[] pkcs12(Path caFile) {
        try (InputStream in = Files.newInputStream(caFile)) {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            int i = 0;
            for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca-" + i++, cert);
            }
            if (i == 0) {
                throw new IllegalArgumentException("redis.tls_ca_file " + caFile + " holds no certificate");
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            trust.store(out, IN_MEMORY);
            return out.toByteArray();
        } catch (IOException e) {
            throw new IllegalArgumentException("redis.tls_ca_file " + caFile + " cannot be read: " + e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("redis.tls_ca_file " + caFile + " is not a PEM certificate file: "
                    + e.getMessage(), e);
        }
    }
}

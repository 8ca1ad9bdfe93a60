package dev.sluice.control;

import dev.sluice.common.config.RedisConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.SslOptions;
import redis.clients.jedis.SslVerifyMode;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;

/**
 * How a Sluice process connects to Redis from its {@code [redis]} section: user and password from the URL, the
 * database from its path, TLS for {@code rediss://} with full verification of the server's name, trusting the
 * system's CAs or only those of {@code redis.tls_ca_file}. Worker nodes and the coordinator both connect this way.
 */
public final class RedisClients {
    private static final char[] IN_MEMORY = "sluice".toCharArray();

    private RedisClients() {
    }

    /** The client settings for {@code config}, connections named {@code clientName}, with {@code timeoutMs}. */
    public static JedisClientConfig clientConfig(RedisConfig config, String clientName, int timeoutMs) {
        URI url = config.url();
        DefaultJedisClientConfig.Builder b = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(timeoutMs)
                .socketTimeoutMillis(timeoutMs)
                .clientName(clientName)
                .resp2();
        if (config.tls()) {
            if (config.tlsCaFile().isEmpty()) {
                b.sslOptions(SslOptions.builder().sslVerifyMode(SslVerifyMode.FULL).build());
            } else {
                b.sslOptions(trusting(Path.of(config.tlsCaFile())));
            }
        }
        String userInfo = url.getRawUserInfo();
        if (userInfo != null && !userInfo.isEmpty()) {
            int colon = userInfo.indexOf(':');
            if (colon < 0) {
                b.password(decode(userInfo));
            } else {
                String user = decode(userInfo.substring(0, colon));
                if (!user.isEmpty()) {
                    b.user(user);
                }
                b.password(decode(userInfo.substring(colon + 1)));
            }
        }
        String path = url.getPath();
        if (path != null && path.length() > 1) {
            b.database(Integer.parseInt(path.substring(1)));
        }
        return b.build();
    }

    /** The server's address in {@code config}'s URL (port 6379 when it names none). */
    public static HostAndPort address(RedisConfig config) {
        return new HostAndPort(config.url().getHost(), config.url().getPort() < 0 ? 6379 : config.url().getPort());
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
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

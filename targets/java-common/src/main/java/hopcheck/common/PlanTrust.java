package hopcheck.common;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** What the Java drivers read from a plan to reach the listener and trust the run's CA. */
public final class PlanTrust {
  private PlanTrust() {}

  /** The plan's {@code proxy} URL ({@code http://127.0.0.1:PORT}) as the address to connect to. */
  public static InetSocketAddress proxyAddress(String proxy) throws PlanFault {
    try {
      URI uri = new URI(proxy);
      if (uri.getHost() == null || uri.getPort() < 0) {
        throw new PlanFault("the plan's proxy " + proxy + " has no host and port", null);
      }
      return new InetSocketAddress(uri.getHost(), uri.getPort());
    } catch (URISyntaxException e) {
      throw new PlanFault("the plan's proxy " + proxy + " is not a URL: " + e.getMessage(), e);
    }
  }

  /**
   * A trust manager holding only the CA certificates of the plan's PEM file (JSSE's documented
   * trust-store path: a KeyStore of the certificates, given to the default TrustManagerFactory).
   */
  public static X509TrustManager trustManager(String caFile) throws PlanFault {
    try (InputStream pem = Files.newInputStream(Path.of(caFile))) {
      Collection<? extends Certificate> certificates = CertificateFactory.getInstance("X.509").generateCertificates(pem);
      if (certificates.isEmpty()) {
        throw new PlanFault("no certificate in the CA file " + caFile, null);
      }
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int index = 0;
      for (Certificate certificate : certificates) {
        store.setCertificateEntry("ca" + index++, certificate);
      }
      TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(store);
      for (TrustManager manager : factory.getTrustManagers()) {
        if (manager instanceof X509TrustManager) {
          return (X509TrustManager) manager;
        }
      }
      throw new PlanFault("no X509TrustManager for the CA file " + caFile, null);
    } catch (IOException | GeneralSecurityException e) {
      throw new PlanFault("cannot load the CA file " + caFile + ": " + e, e);
    }
  }
}

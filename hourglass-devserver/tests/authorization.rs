//! TLS, mutual TLS and API keys on the dev server's port, with certificates generated in the
//! test: valid clients are served; a wrong CA, a missing client certificate, no key and a
//! wrong key are each refused, and a refused call starts nothing.
mod common;

use common::*;
use hourglass_devserver::{ApiKeys, ServerTls};
use hourglass_tests::certs::TestPki;
use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn tls_config(
    ca: &std::path::Path,
    identity: Option<&hourglass_tests::certs::CertFiles>,
) -> ClientTlsConfig {
    let mut cfg = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).unwrap()))
        .domain_name("localhost");
    if let Some(id) = identity {
        cfg = cfg.identity(Identity::from_pem(
            std::fs::read(&id.cert).unwrap(),
            std::fs::read(&id.key).unwrap(),
        ));
    }
    cfg
}

async fn system_info(url: &str, cfg: ClientTlsConfig, key: Option<&str>) -> Result<(), String> {
    let channel = Endpoint::from_shared(url.to_string())
        .map_err(|e| e.to_string())?
        .tls_config(cfg)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let mut client = C::new(channel);
    let mut req = tonic::Request::new(GetSystemInfoRequest {});
    if let Some(k) = key {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {k}").parse().unwrap());
    }
    client
        .get_system_info(req)
        .await
        .map(|_| ())
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

#[tokio::test]
async fn mutual_tls_and_api_keys_refuse_each_bad_client() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let s = DevServer::builder()
        .port(0)
        .tls(ServerTls::new(&pki.server.cert, &pki.server.key).client_ca(&pki.ca))
        .api_keys(ApiKeys::new(["k-one"]).unwrap())
        .start()
        .await
        .unwrap();
    let url = s.url();
    assert!(url.starts_with("https://"), "{url}");
    system_info(&url, tls_config(&pki.ca, Some(&pki.client)), Some("k-one"))
        .await
        .unwrap();
    let no_key = system_info(&url, tls_config(&pki.ca, Some(&pki.client)), None)
        .await
        .unwrap_err();
    assert!(
        no_key.contains("Unauthenticated") && no_key.contains("requires an API key"),
        "{no_key}"
    );
    let wrong_key = system_info(&url, tls_config(&pki.ca, Some(&pki.client)), Some("k-two"))
        .await
        .unwrap_err();
    assert!(wrong_key.contains("not valid"), "{wrong_key}");
    let wrong_ca = system_info(
        &url,
        tls_config(&pki.other_ca, Some(&pki.client)),
        Some("k-one"),
    )
    .await
    .unwrap_err();
    assert!(wrong_ca.contains("UnknownIssuer"), "{wrong_ca}");
    let no_cert = system_info(&url, tls_config(&pki.ca, None), Some("k-one")).await;
    assert!(
        no_cert.is_err(),
        "a client without a certificate was served"
    );
    let intruder = system_info(
        &url,
        tls_config(&pki.ca, Some(&pki.other_client)),
        Some("k-one"),
    )
    .await;
    assert!(
        intruder.is_err(),
        "a client certificate from another CA was accepted"
    );
    assert_eq!(s.executions_in_memory(), 0);
    s.shutdown().await.unwrap();
}

#[tokio::test]
async fn unusable_tls_files_fail_the_start_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path()).unwrap();
    let err = DevServer::builder()
        .port(0)
        .tls(ServerTls::new(&pki.server.key, &pki.server.key))
        .start()
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("CERTIFICATE block"), "{err}");
}

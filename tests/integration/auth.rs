//! Authentication passes through: the proxy holds no passwords.

use tokio_postgres::error::SqlState;

use crate::common::{MD5_USER, SCRAM_USER, TestProxy, connect};

#[tokio::test]
async fn md5_login_right_and_wrong_password() {
    check_login(MD5_USER).await;
}

#[tokio::test]
async fn scram_login_right_and_wrong_password() {
    check_login(SCRAM_USER).await;
}

async fn check_login((user, password): (&str, &str)) {
    let proxy = TestProxy::start().await;
    let client = connect(&proxy.url(user, Some(password), "postgres"))
        .await
        .expect("right password logs in");
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, user);

    let err = connect(&proxy.url(user, Some("wrong"), "postgres"))
        .await
        .expect_err("wrong password is refused");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err}");
    // The proxy is still serving.
    let again = connect(&proxy.url(user, Some(password), "postgres"))
        .await
        .unwrap();
    again.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn unknown_database_error_comes_from_the_server() {
    let proxy = TestProxy::start().await;
    let err = connect(&proxy.url("postgres", None, "no_such_db"))
        .await
        .expect_err("unknown database");
    assert_eq!(err.code(), Some(&SqlState::INVALID_CATALOG_NAME), "{err}");
    let message = err.as_db_error().map(|e| e.message()).unwrap_or_default();
    assert!(message.contains("no_such_db"), "{message}");
}

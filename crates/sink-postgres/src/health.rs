//! The health check.

use sqlx::PgPool;

/// `SELECT 1`, the way real traffic would reach the server; needs no privileges.
pub(crate) async fn select_one(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

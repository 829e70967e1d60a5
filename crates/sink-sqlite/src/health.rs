//! The health check.

use sqlx::SqlitePool;

/// `SELECT 1` on the store.
pub(crate) async fn select_one(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

//! The health check.

use mongodb::Client;
use mongodb::bson::doc;
use mongodb::error::Error as MongoDriverError;

/// `ping`, the way a driver checks a server: needs no privileges.
pub(crate) async fn ping(client: &Client, database: &str) -> Result<(), MongoDriverError> {
    client
        .database(database)
        .run_command(doc! {"ping": 1})
        .await
        .map(|_| ())
}

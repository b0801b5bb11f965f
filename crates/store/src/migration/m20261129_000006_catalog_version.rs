//! The catalog version: one number that every change to a realm, a client, a role grant or a
//! signing key moves, kept by triggers so that no writer — this server, another node, a script
//! with `psql` — can change what the nodes cache without it. On PostgreSQL the same triggers
//! announce the change on the `latchkey_catalog` channel (`NOTIFY`, delivered at commit), so
//! every node drops its cached copies at once; see `latchkey_lifecycle::catalog`.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose rows nodes cache.
const CACHED: [&str; 4] = ["realms", "clients", "role_grants", "signing_keys"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let run = |sql: String| db.execute(Statement::from_string(backend, sql));
        run("CREATE TABLE catalog_version (id SMALLINT PRIMARY KEY, version BIGINT NOT NULL)".into()).await?;
        run("INSERT INTO catalog_version (id, version) VALUES (1, 0)".into()).await?;
        match backend {
            DbBackend::Postgres => {
                run("CREATE FUNCTION latchkey_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     DECLARE v BIGINT; \
                     BEGIN \
                       UPDATE catalog_version SET version = version + 1 WHERE id = 1 RETURNING version INTO v; \
                       PERFORM pg_notify('latchkey_catalog', v::text); \
                       RETURN NULL; \
                     END $$"
                    .into())
                .await?;
                for table in CACHED {
                    run(format!(
                        "CREATE TRIGGER tr_{table}_catalog AFTER INSERT OR UPDATE OR DELETE ON {table} \
                         FOR EACH STATEMENT EXECUTE FUNCTION latchkey_catalog_changed()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in CACHED {
                    for op in ["INSERT", "UPDATE", "DELETE"] {
                        run(format!(
                            "CREATE TRIGGER tr_{table}_catalog_{} AFTER {op} ON {table} \
                             BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; END",
                            op.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let run = |sql: String| db.execute(Statement::from_string(backend, sql));
        for table in CACHED {
            match backend {
                DbBackend::Postgres => {
                    run(format!("DROP TRIGGER IF EXISTS tr_{table}_catalog ON {table}")).await?;
                }
                _ => {
                    for op in ["insert", "update", "delete"] {
                        run(format!("DROP TRIGGER IF EXISTS tr_{table}_catalog_{op}")).await?;
                    }
                }
            }
        }
        if backend == DbBackend::Postgres {
            run("DROP FUNCTION IF EXISTS latchkey_catalog_changed()".into()).await?;
        }
        run("DROP TABLE catalog_version".into()).await?;
        Ok(())
    }
}

//! The metadata commands answer from the session's catalog.

use arrow_flight::sql::{
    CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetTables, CommandGetXdbcTypeInfo, SqlInfo,
};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::ipc::convert::try_schema_from_ipc_buffer;
use datafusion_rapid7::flight::ServeLimits;

use super::{fetch, serve};
use crate::support;

fn strings(batches: &[datafusion::arrow::array::RecordBatch], column: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(column).expect(column);
        let c = datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Utf8)
            .unwrap();
        let c = c.as_string::<i32>();
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    out
}

#[tokio::test]
async fn catalogs_schemas_tables_types_info_and_keys_answer() {
    let server = support::server().await;
    let served = serve(&server, ServeLimits::default(), |c| c).await;
    let mut client = served.client(None).await;

    let info = client.get_catalogs().await.unwrap();
    let catalogs = strings(&fetch(&mut client, info).await.unwrap(), "catalog_name");
    assert_eq!(catalogs, ["datafusion"]);

    let info = client
        .get_db_schemas(CommandGetDbSchemas {
            catalog: Some("datafusion".into()),
            db_schema_filter_pattern: Some("rapid%".into()),
        })
        .await
        .unwrap();
    let mut schemas = strings(&fetch(&mut client, info).await.unwrap(), "db_schema_name");
    schemas.sort();
    assert_eq!(schemas, ["rapid7", "rapid7_logsets", "rapid7_parsed"]);

    // Tables with their schemas: rapid7_logs is there with its real schema.
    let info = client
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: Some("public".into()),
            table_name_filter_pattern: Some("rapid7_%".into()),
            table_types: vec!["TABLE".into()],
            include_schema: true,
        })
        .await
        .unwrap();
    let batches = fetch(&mut client, info).await.unwrap();
    let names = strings(&batches, "table_name");
    assert_eq!(names, ["rapid7_logs"]);
    let ipc = batches[0]
        .column_by_name("table_schema")
        .unwrap()
        .as_binary::<i32>()
        .value(0)
        .to_vec();
    let schema = try_schema_from_ipc_buffer(&ipc).unwrap();
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        columns,
        [
            "timestamp",
            "log_id",
            "log_name",
            "sequence_number",
            "message",
            "labels",
            "logset"
        ]
    );
    // The log's sets: a list of names, never null.
    let logset = schema.field_with_name("logset").unwrap();
    assert!(
        matches!(logset.data_type(), DataType::List(item) if item.data_type() == &DataType::Utf8),
        "{logset:?}"
    );
    assert!(!logset.is_nullable());

    // One table per log in `rapid7`, filtered by name pattern.
    let info = client
        .get_tables(CommandGetTables {
            catalog: Some("datafusion".into()),
            db_schema_filter_pattern: Some("rapid7".into()),
            table_name_filter_pattern: Some("Fire%".into()),
            table_types: vec![],
            include_schema: false,
        })
        .await
        .unwrap();
    assert_eq!(
        strings(&fetch(&mut client, info).await.unwrap(), "table_name"),
        ["Firewall"]
    );

    let info = client.get_table_types().await.unwrap();
    let types = strings(&fetch(&mut client, info).await.unwrap(), "table_type");
    assert_eq!(types, ["TABLE", "VIEW"]);

    let info = client
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerReadOnly,
        ])
        .await
        .unwrap();
    let batches = fetch(&mut client, info).await.unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 2);
    let text = super::lines(&batches).join("\n");
    assert!(text.contains("datafusion-rapid7"), "{text}");

    let info = client
        .get_xdbc_type_info(CommandGetXdbcTypeInfo { data_type: None })
        .await
        .unwrap();
    let types = strings(&fetch(&mut client, info).await.unwrap(), "type_name");
    assert!(types.contains(&"VARCHAR".to_string()) && types.contains(&"TIMESTAMP".to_string()));

    let info = client
        .get_primary_keys(CommandGetPrimaryKeys {
            catalog: None,
            db_schema: None,
            table: "rapid7_logs".into(),
        })
        .await
        .unwrap();
    let batches = fetch(&mut client, info).await.unwrap();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
}

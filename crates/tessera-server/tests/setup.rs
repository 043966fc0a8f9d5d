//! The data directory the server opens its store in is its owner's alone.

use tessera_server::config::Config;

#[tokio::test]
async fn the_data_directory_and_database_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = tessera_server::setup::open_store(&Config::for_data_dir(data.clone()))
        .await
        .unwrap();
    store.create_account("111111111111", 0).await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("tessera.db")), 0o600);
    }
}

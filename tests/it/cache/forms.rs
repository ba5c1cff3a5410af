//! What the cache records of how each log sends its messages, under writers
//! that race and files that cannot be read: objects, once seen, stay; a
//! directory that cannot be read is never replaced.

use bytes::Bytes;
use datafusion_rapid7::cache::{CacheConfig, LOG_NAMES_FILE, MessageForm, SegmentCache};
use object_store::ObjectStoreExt;
use object_store::path::Path;

use super::{Env, LOG, on_local_and_s3};

on_local_and_s3!(
    objects_survive_a_stale_rewrite_of_the_log_directory,
    an_unreadable_log_directory_is_never_replaced,
);

fn directory(env: &Env) -> Path {
    env.root().prefix().clone().join(LOG_NAMES_FILE)
}

async fn read(env: &Env, path: &Path) -> Bytes {
    env.store().get(path).await.unwrap().bytes().await.unwrap()
}

/// Two handles over one cache (two processes, or hosts over S3). B read the
/// directory when the log was known to send text; A then records objects;
/// B's read-merge-write puts back its stale copy (the put below is the one
/// B's write makes). Every handle still says objects.
async fn objects_survive_a_stale_rewrite_of_the_log_directory(env: Env) {
    let a = env.cache.clone();
    let b = SegmentCache::new(env.root().clone(), CacheConfig::default());
    assert_eq!(
        a.record_message_form(LOG, MessageForm::Text).await.unwrap(),
        MessageForm::Text
    );
    let stale = read(&env, &directory(&env)).await;
    assert_eq!(
        a.record_message_form(LOG, MessageForm::Objects)
            .await
            .unwrap(),
        MessageForm::Objects
    );
    env.store()
        .put(&directory(&env), stale.into())
        .await
        .unwrap();
    for handle in [&a, &b] {
        assert_eq!(
            handle.message_forms().await.unwrap().get(LOG),
            Some(&MessageForm::Objects)
        );
        assert_eq!(
            handle
                .record_message_form(LOG, MessageForm::Text)
                .await
                .unwrap(),
            MessageForm::Objects
        );
    }
}

/// A directory that does not parse (damaged, or of a later version) or
/// whose format is a later one fails every write, and stays as it was; an
/// objects verdict is still recorded.
async fn an_unreadable_log_directory_is_never_replaced(env: Env) {
    let path = directory(&env);
    let names = [(LOG.to_string(), "Firewall".to_string())].into();
    for body in [
        &b"{\"format\":1,\"logs\":{\"other\":\"Ot"[..],
        &br#"{"format":2,"logs":{"other":"Other"},"owners":{"other":"team"}}"#[..],
    ] {
        env.store()
            .put(&path, Bytes::from_static(body).into())
            .await
            .unwrap();
        assert!(env.cache.save_log_names(&names).await.is_err());
        assert!(
            env.cache
                .record_message_form(LOG, MessageForm::Text)
                .await
                .is_err()
        );
        assert_eq!(read(&env, &path).await, body, "left as it was");
    }
    // The later version's file is read, and the objects marker over it.
    assert_eq!(
        env.cache
            .record_message_form(LOG, MessageForm::Objects)
            .await
            .unwrap(),
        MessageForm::Objects
    );
    let forms = env.cache.message_forms().await.unwrap();
    assert_eq!(forms.get(LOG), Some(&MessageForm::Objects));
    assert_eq!(
        env.cache.load_log_names().await.unwrap().get("other"),
        Some(&"Other".to_string())
    );
}

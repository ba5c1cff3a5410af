//! A real S3-protocol server on loopback, in process: `s3s` (the S3 HTTP
//! protocol, SigV4 auth) over `s3s-fs` (objects as files in a temp dir).
//!
//! `s3s-fs` honours `If-None-Match: *` on PUT (what object_store sends for
//! `PutMode::Create`) and `If-Match: <e-tag>` (`PutMode::Update`) but checks
//! and writes without a lock, so two racing conditional PUTs of one key
//! could both succeed; and a GET reads the object's bytes and its e-tag at
//! two moments, so it can pair one version's bytes with the next one's
//! e-tag. [`CreateOnly`] is a thin wrapper that serialises conditional PUTs
//! and GETs with them, and delegates everything else, so the server has S3's
//! atomic conditional-put semantics.
//!
//! The same wrapper injects the write faults of the reliability tests, with
//! no hook in the code under test:
//! - [`S3Server::hold_put`] holds the next PUT whose key matches, tells the
//!   test it arrived, and waits for the test to release it: before anything
//!   is stored (an upload cut off) or after the object is stored (a response
//!   that never reaches the client). The test can kill its client meanwhile.
//! - [`S3Server::hold_list`] holds the next LIST whose prefix matches after
//!   the listing is made, until the test releases it: the client gets a
//!   listing that is stale by whatever the test did meanwhile.
//! - [`S3Server::set_put_budget`] accepts PUT bodies until a byte budget is
//!   spent; the PUT that crosses it is refused mid-body with 403
//!   `QuotaExceeded` (what Ceph RGW answers over a bucket quota; object_store
//!   does not retry a 403) and stores nothing.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use datafusion_rapid7::cache::CacheRoot;
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinSet;

const ACCESS_KEY: &str = "cache-test-access";
const SECRET_KEY: &str = "cache-test-secret";
const BUCKET: &str = "rapid7-cache";

/// The server; stops when dropped.
pub struct S3Server {
    endpoint: String,
    faults: Arc<std::sync::Mutex<PutFaults>>,
    _tasks: JoinSet<()>,
    dir: tempfile::TempDir,
}

/// Where [`S3Server::hold_put`] holds a PUT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldAt {
    /// Before the body is read: nothing is stored, and once released the PUT
    /// fails with `IncompleteBody`, as an upload cut off by a dead client.
    BeforeStore,
    /// After the object is stored, before the response is sent: the object
    /// exists, the client never learns it.
    AfterStore,
    /// Stored, then, once released, answered `403 AccessDenied` (an error
    /// no client retries): the object exists, the client learns a failure.
    StoreThenRefuse,
}

/// A request held by [`S3Server::hold_put`] or [`S3Server::hold_list`].
pub struct HeldPut {
    reached: oneshot::Receiver<String>,
    release: oneshot::Sender<()>,
}

impl HeldPut {
    /// Wait until a matching request arrives and is held; its key (a
    /// LIST's prefix).
    pub async fn reached(&mut self) -> String {
        (&mut self.reached).await.expect("the server is running")
    }

    /// Let the held request finish.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

/// What the test asked PUTs to do; shared by the handle and the service.
#[derive(Default)]
struct PutFaults {
    hold: Option<Hold>,
    list_hold: Option<Hold>,
    /// Bytes of PUT bodies still accepted; `None`: no limit.
    budget: Option<u64>,
    refused: Vec<String>,
}

struct Hold {
    matches: Box<dyn FnMut(&str) -> bool + Send>,
    at: HoldAt,
    reached: oneshot::Sender<String>,
    release: oneshot::Receiver<()>,
}

impl S3Server {
    /// Bind `127.0.0.1:0`, then serve: no readiness wait is needed.
    pub async fn start() -> S3Server {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join(BUCKET)).expect("bucket dir");
        let fs = s3s_fs::FileSystem::new(dir.path()).expect("s3s-fs");
        let faults = Arc::default();
        let mut builder = s3s::service::S3ServiceBuilder::new(CreateOnly {
            inner: fs,
            create_lock: Mutex::new(()),
            faults: Arc::clone(&faults),
        });
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                let service = service.clone();
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        S3Server {
            endpoint,
            faults,
            _tasks: tasks,
            dir,
        }
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, PutFaults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hold the next PUT whose key (`{prefix}/logs/…` in the bucket)
    /// satisfies `matches`, at `at`; `matches` sees every PUT key until one
    /// matches. Replaces an earlier hold that never matched.
    pub fn hold_put(
        &self,
        at: HoldAt,
        matches: impl FnMut(&str) -> bool + Send + 'static,
    ) -> HeldPut {
        let (reached_tx, reached) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        self.faults().hold = Some(Hold {
            matches: Box::new(matches),
            at,
            reached: reached_tx,
            release: release_rx,
        });
        HeldPut { reached, release }
    }

    /// Hold the next LIST (v2) whose prefix satisfies `matches`, once its
    /// result is made, until released (see the module docs).
    pub fn hold_list(&self, matches: impl FnMut(&str) -> bool + Send + 'static) -> HeldPut {
        let (reached_tx, reached) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        self.faults().list_hold = Some(Hold {
            matches: Box::new(matches),
            at: HoldAt::AfterStore,
            reached: reached_tx,
            release: release_rx,
        });
        HeldPut { reached, release }
    }

    /// Accept `Some(n)` more bytes of PUT bodies, then refuse (see the module
    /// docs); `None` lifts the limit.
    pub fn set_put_budget(&self, bytes: Option<u64>) {
        self.faults().budget = bytes;
    }

    /// The keys of the PUTs refused over the budget so far, in order.
    pub fn refused_puts(&self) -> Vec<String> {
        self.faults().refused.clone()
    }

    /// The objects whose keys start with `prefix`, as (key, the file s3s-fs
    /// keeps it in, whose modification time is the object's), sorted by key.
    pub fn object_files(&self, prefix: &str) -> Vec<(String, std::path::PathBuf)> {
        let bucket = self.dir.path().join(BUCKET);
        let mut out = Vec::new();
        let mut dirs = vec![bucket.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("a bucket directory") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let key = path.strip_prefix(&bucket).expect("in the bucket");
                let key = key.to_str().expect("a UTF-8 key").to_string();
                if key.starts_with(prefix) {
                    out.push((key, path));
                }
            }
        }
        out.sort();
        out
    }

    /// The `s3://` URL of `prefix` in the test bucket.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The standard `AWS_*` variables that point object_store at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_VIRTUAL_HOSTED_STYLE_REQUEST", "false".into()),
        ]
    }

    /// A cache root at `s3://{bucket}/{prefix}` on this server.
    pub fn root(&self, prefix: &str) -> CacheRoot {
        self.root_with(prefix, &[])
    }

    /// [`S3Server::root`] with more object store options, e.g.
    /// `("aws_conditional_put", "disabled")`.
    pub fn root_with(&self, prefix: &str, extra: &[(&str, &str)]) -> CacheRoot {
        let options = [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_access_key_id", ACCESS_KEY),
            ("aws_secret_access_key", SECRET_KEY),
            ("aws_region", "us-east-1"),
            ("aws_allow_http", "true"),
            ("aws_virtual_hosted_style_request", "false"),
        ];
        CacheRoot::open_with_options(
            &format!("s3://{BUCKET}/{prefix}"),
            options.iter().chain(extra).copied(),
        )
        .expect("S3 cache root")
    }
}

/// Delegates to `inner`, holding a lock across create-only PUTs, and applies
/// the test's [`PutFaults`].
struct CreateOnly<T> {
    inner: T,
    create_lock: Mutex<()>,
    faults: Arc<std::sync::Mutex<PutFaults>>,
}

impl<T: S3> CreateOnly<T> {
    fn faults(&self) -> std::sync::MutexGuard<'_, PutFaults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The hold for `key`, if the test set one that matches it.
    fn take_hold(&self, key: &str) -> Option<Hold> {
        let mut faults = self.faults();
        let hold = faults.hold.as_mut()?;
        if (hold.matches)(key) {
            faults.hold.take()
        } else {
            None
        }
    }

    /// Read the body within the budget, or refuse the PUT once it crosses it.
    async fn spend_budget(&self, input: &mut PutObjectInput) -> S3Result<()> {
        if self.faults().budget.is_none() {
            return Ok(());
        }
        let Some(mut body) = input.body.take() else {
            return Ok(());
        };
        let mut read = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| S3Error::with_source(S3ErrorCode::IncompleteBody, e))?;
            let mut faults = self.faults();
            if let Some(left) = faults.budget {
                if chunk.len() as u64 > left {
                    faults.budget = Some(0);
                    faults.refused.push(input.key.clone());
                    let mut e = S3Error::with_message(
                        "QuotaExceeded".parse().expect("any code parses"),
                        "the bucket quota is exhausted",
                    );
                    e.set_status_code(hyper::StatusCode::FORBIDDEN);
                    return Err(e);
                }
                faults.budget = Some(left - chunk.len() as u64);
            }
            read.extend_from_slice(&chunk);
        }
        let whole: [Result<Bytes, std::io::Error>; 1] = [Ok(read.freeze())];
        input.body = Some(StreamingBlob::wrap(futures::stream::iter(whole)));
        Ok(())
    }

    async fn create_only_put(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        if req.input.if_none_match.is_some() || req.input.if_match.is_some() {
            let _serial = self.create_lock.lock().await;
            self.inner.put_object(req).await
        } else {
            self.inner.put_object(req).await
        }
    }
}

#[async_trait::async_trait]
impl<T: S3> S3 for CreateOnly<T> {
    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let key = req.input.key.clone();
        let Some(hold) = self.take_hold(&key) else {
            self.spend_budget(&mut req.input).await?;
            return self.create_only_put(req).await;
        };
        let Hold {
            at,
            reached,
            release,
            ..
        } = hold;
        if at == HoldAt::BeforeStore {
            let _ = reached.send(key);
            let _ = release.await;
            return Err(S3Error::with_message(
                S3ErrorCode::IncompleteBody,
                "the upload was cut off",
            ));
        }
        self.spend_budget(&mut req.input).await?;
        let stored = self.create_only_put(req).await;
        let _ = reached.send(key);
        let _ = release.await;
        match (at, stored) {
            (HoldAt::StoreThenRefuse, Ok(_)) => Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "stored, and then refused",
            )),
            (_, stored) => stored,
        }
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        if req.input.if_none_match.is_some() {
            let _serial = self.create_lock.lock().await;
            self.inner.complete_multipart_upload(req).await
        } else {
            self.inner.complete_multipart_upload(req).await
        }
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        // The file is opened inside (its bytes are that version's, streamed
        // later), and its e-tag read: both of one version.
        let _serial = self.create_lock.lock().await;
        self.inner.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.inner.head_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.inner.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.inner.delete_objects(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.inner.list_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let hold = {
            let mut faults = self.faults();
            let matched = faults
                .list_hold
                .as_mut()
                .is_some_and(|h| (h.matches)(&prefix));
            if matched {
                faults.list_hold.take()
            } else {
                None
            }
        };
        let listed = self.inner.list_objects_v2(req).await;
        if let Some(Hold {
            reached, release, ..
        }) = hold
        {
            let _ = reached.send(prefix);
            let _ = release.await;
        }
        listed
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.inner.copy_object(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.inner.head_bucket(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.inner.create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.inner.upload_part(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.inner.abort_multipart_upload(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.inner.list_parts(req).await
    }
}

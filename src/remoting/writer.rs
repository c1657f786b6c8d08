//! The outbound side of a connection: frames batched into as few writes as
//! possible. Headers and short bodies are copied together into one buffer;
//! long bodies and body pieces (a pull response's records, still in the
//! mapped commit log) are referenced where they are and handed to the
//! socket with vectored writes, so a record is copied once, by the kernel.
//!
//! A writer that cannot write vectored (`is_write_vectored` false) gets
//! everything copied into the one buffer instead: one write call, and for a
//! TLS stream one run of records rather than a record per piece.

use std::io::IoSlice;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::RemotingCommand;

/// Plain bodies shorter than this are copied next to their header; a
/// separate iovec costs more than copying them.
const INLINE_BODY: usize = 16 * 1024;
/// The copy buffer a connection starts with; it grows with its batches.
const HEAD_START: usize = 4 * 1024;
/// A copy buffer that grew past this is dropped after its write.
const HEAD_KEEP_MAX: usize = 256 * 1024;
/// iovecs handed to one writev (Linux's IOV_MAX is 1024).
const MAX_IOV: usize = 1024;

/// Frames gathered for one write.
pub(crate) struct Batch {
    /// Small bytes not yet sealed into `chunks`.
    head: BytesMut,
    /// What to write, in order.
    chunks: Vec<Bytes>,
    len: usize,
    vectored: bool,
}

impl Batch {
    pub(crate) fn new(vectored: bool) -> Self {
        Batch { head: BytesMut::with_capacity(HEAD_START), chunks: Vec::new(), len: 0, vectored }
    }

    /// Bytes gathered so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, cmd: &RemotingCommand) {
        let body_len = cmd.body_len();
        let before = self.head.len();
        cmd.encode_head_into(&mut self.head, body_len);
        self.len += self.head.len() - before + body_len;
        if let Some(b) = &cmd.body {
            self.push_bytes(b, b.len() < INLINE_BODY);
        }
        for p in &cmd.body_parts {
            self.push_bytes(p, false);
        }
    }

    fn push_bytes(&mut self, b: &Bytes, inline: bool) {
        if b.is_empty() {
            return;
        }
        if inline || !self.vectored {
            self.head.put_slice(b);
            return;
        }
        if !self.head.is_empty() {
            self.chunks.push(self.head.split().freeze());
        }
        self.chunks.push(b.clone());
    }

    /// Writes everything gathered and empties the batch (also on error).
    pub(crate) async fn write_to<W: AsyncWrite + Unpin>(&mut self, wr: &mut W) -> std::io::Result<()> {
        if !self.head.is_empty() {
            self.chunks.push(self.head.split().freeze());
        }
        let r = match self.chunks.as_slice() {
            [] => Ok(()),
            [one] => wr.write_all(one).await,
            many => write_all_vectored(wr, many).await,
        };
        self.chunks.clear();
        self.len = 0;
        if self.head.capacity() > HEAD_KEEP_MAX {
            // One big batch must not pin its buffer for the connection's life:
            // most connections are idle clients.
            self.head = BytesMut::with_capacity(HEAD_START);
        }
        r
    }
}

/// `write_all` over several buffers, as few writev calls as the socket allows.
async fn write_all_vectored<W: AsyncWrite + Unpin>(wr: &mut W, chunks: &[Bytes]) -> std::io::Result<()> {
    let (mut i, mut off) = (0, 0);
    let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(chunks.len().min(MAX_IOV));
    loop {
        while i < chunks.len() && off == chunks[i].len() {
            i += 1;
            off = 0;
        }
        if i == chunks.len() {
            return Ok(());
        }
        iov.clear();
        iov.push(IoSlice::new(&chunks[i][off..]));
        iov.extend(chunks[i + 1..].iter().take(MAX_IOV - 1).map(|c| IoSlice::new(c)));
        let mut n = wr.write_vectored(&iov).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let rest = chunks[i].len() - off;
            if n < rest {
                off += n;
                break;
            }
            n -= rest;
            i += 1;
            off = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A sink that takes at most `step` bytes per call, and counts calls.
    struct Sink {
        out: Vec<u8>,
        step: usize,
        vectored: bool,
        calls: usize,
    }

    impl AsyncWrite for Sink {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            self.calls += 1;
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            assert!(bufs.len() <= MAX_IOV);
            self.calls += 1;
            let mut left = self.step;
            for b in bufs {
                let n = b.len().min(left);
                self.out.extend_from_slice(&b[..n]);
                left -= n;
                if left == 0 {
                    break;
                }
            }
            Poll::Ready(Ok(self.step - left))
        }
        fn is_write_vectored(&self) -> bool {
            self.vectored
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn commands() -> Vec<RemotingCommand> {
        let parts: Vec<Bytes> = (0..1500u32).map(|i| Bytes::from(vec![(i % 251) as u8; 1 + (i as usize % 700)])).collect();
        vec![
            RemotingCommand::request(10, 1).with_body(&b"small"[..]),
            RemotingCommand::request(11, 2).with_body_parts(parts),
            RemotingCommand::request(12, 3).with_body(vec![7u8; INLINE_BODY + 5]),
            RemotingCommand::request(13, 4),
            RemotingCommand::request(14, 5).with_body_parts(vec![Bytes::new(), Bytes::from_static(b"x")]),
        ]
    }

    fn expected() -> Vec<u8> {
        let mut all = BytesMut::new();
        for c in commands() {
            c.encode_into(&mut all);
        }
        all.to_vec()
    }

    async fn written(step: usize, vectored: bool) -> (Vec<u8>, usize) {
        let mut sink = Sink { out: Vec::new(), step, vectored, calls: 0 };
        let mut batch = Batch::new(vectored);
        for c in commands() {
            batch.push(&c);
        }
        assert_eq!(batch.len(), expected().len());
        batch.write_to(&mut sink).await.unwrap();
        assert_eq!(batch.len(), 0);
        (sink.out, sink.calls)
    }

    #[tokio::test]
    async fn vectored_writes_give_the_same_bytes_as_one_copied_frame() {
        // More pieces than one writev takes, and short writes splitting pieces.
        for step in [usize::MAX, 1 << 20, 4099, 1000, 7] {
            let (out, _) = written(step, true).await;
            assert!(out == expected(), "step {step}");
        }
    }

    #[tokio::test]
    async fn a_writer_without_vectored_writes_gets_one_buffer() {
        let (out, calls) = written(usize::MAX, false).await;
        assert!(out == expected());
        assert_eq!(calls, 1, "everything copied into one write");
    }

    #[tokio::test]
    async fn pieces_are_referenced_not_copied() {
        let piece = Bytes::from(vec![1u8; 4096]);
        let mut batch = Batch::new(true);
        batch.push(&RemotingCommand::request(11, 2).with_body_parts(vec![piece.clone(), piece.clone()]));
        // The head holds the header only; the pieces are the caller's own memory.
        assert!(batch.chunks.len() == 3);
        assert_eq!(batch.chunks[1].as_ptr(), piece.as_ptr());
        assert_eq!(batch.chunks[2].as_ptr(), piece.as_ptr());
    }

    #[tokio::test]
    async fn a_writer_that_takes_nothing_is_an_error_not_a_hang() {
        let mut sink = Sink { out: Vec::new(), step: 0, vectored: true, calls: 0 };
        let mut batch = Batch::new(true);
        batch.push(&RemotingCommand::request(11, 2).with_body_parts(vec![Bytes::from(vec![1u8; 10]); 3]));
        assert!(batch.write_to(&mut sink).await.is_err());
        assert_eq!(batch.len(), 0);
    }
}

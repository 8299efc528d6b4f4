//! SRTP (RFC 3711) for a leg whose SDP negotiated SDES keys (RFC 4568): one context that
//! encrypts with our key and one that decrypts with the peer's, for RTP and RTCP. The leg
//! task decrypts on arrival (nothing unauthenticated reaches the latch, the bridge or the
//! recording) and encrypts on the way out, so everything in between, recording included,
//! sees plain RTP.

use madoguchi_media::sdp::{CryptoSuite, SrtpParams};
use rtc_srtp::context::Context;
use rtc_srtp::crypto::providers::RingCrypto;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;

/// Replay window (packets), RFC 3711's suggested minimum is 64.
const REPLAY_WINDOW: usize = 128;

/// A leg's two SRTP contexts.
pub(crate) struct SrtpSession {
    params: SrtpParams,
    tx: Context,
    rx: Context,
}

impl std::fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpSession")
            .field("suite", &self.params.suite)
            .finish_non_exhaustive()
    }
}

fn profile(s: CryptoSuite) -> ProtectionProfile {
    match s {
        CryptoSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
    }
}

fn context(key_salt: &[u8; 30], suite: CryptoSuite, inbound: bool) -> Option<Context> {
    let (key, salt) = key_salt.split_at(16);
    let (rtp, rtcp) = if inbound {
        (
            Some(srtp_replay_protection(REPLAY_WINDOW)),
            Some(srtcp_replay_protection(REPLAY_WINDOW)),
        )
    } else {
        (None, None)
    };
    Context::new(key, salt, profile(suite), rtp, rtcp, &RingCrypto).ok()
}

impl SrtpSession {
    pub(crate) fn new(params: SrtpParams) -> Option<SrtpSession> {
        Some(SrtpSession {
            params,
            tx: context(&params.local, params.suite, false)?,
            rx: context(&params.remote, params.suite, true)?,
        })
    }

    /// The keys this session was made with (a re-negotiation with the same keys keeps it).
    pub(crate) fn params(&self) -> SrtpParams {
        self.params
    }

    /// Encrypts and authenticates one RTP packet into `out`; false if it cannot.
    pub(crate) fn protect_rtp(&mut self, plain: &[u8], out: &mut Vec<u8>) -> bool {
        match self.tx.encrypt_rtp(plain) {
            Ok(b) => {
                out.clear();
                out.extend_from_slice(&b);
                true
            }
            Err(_) => false,
        }
    }

    /// Authenticates and decrypts one SRTP packet; None when it fails (forged, replayed,
    /// plain, or from another key).
    pub(crate) fn unprotect_rtp(&mut self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.rx.decrypt_rtp(cipher).ok().map(|b| b.to_vec())
    }

    pub(crate) fn protect_rtcp(&mut self, plain: &[u8]) -> Option<Vec<u8>> {
        self.tx.encrypt_rtcp(plain).ok().map(|b| b.to_vec())
    }

    pub(crate) fn unprotect_rtcp(&mut self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.rx.decrypt_rtcp(cipher).ok().map(|b| b.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_media::sdp::crypto::new_key;

    fn rtp(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 1, 2, 3, 4];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend(std::iter::repeat_n(0x55u8, 160));
        p
    }

    #[test]
    fn both_ends_agree_and_tampering_or_replay_is_refused() {
        let (a_key, b_key) = (new_key(), new_key());
        let suite = CryptoSuite::AesCm128HmacSha1_80;
        let mut a = SrtpSession::new(SrtpParams {
            suite,
            tag: 1,
            local: a_key,
            remote: b_key,
        })
        .unwrap();
        let mut b = SrtpSession::new(SrtpParams {
            suite,
            tag: 1,
            local: b_key,
            remote: a_key,
        })
        .unwrap();
        let mut wire = Vec::new();
        assert!(a.protect_rtp(&rtp(7), &mut wire));
        assert_eq!(wire.len(), rtp(7).len() + 10, "80-bit tag");
        assert_ne!(&wire[12..172], &rtp(7)[12..], "payload encrypted");
        assert_eq!(b.unprotect_rtp(&wire).unwrap(), rtp(7));
        assert!(b.unprotect_rtp(&wire).is_none(), "replay refused");
        assert!(a.protect_rtp(&rtp(8), &mut wire));
        wire[20] ^= 1;
        assert!(b.unprotect_rtp(&wire).is_none(), "tampered packet refused");
        assert!(b.unprotect_rtp(&rtp(9)).is_none(), "plain RTP refused");
    }
}

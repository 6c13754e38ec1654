/* kdc_gate.h - at most KF_KDC_INFLIGHT requests to KDCs at once, per process.
 *
 * A rotation talks to hundreds of agents at once (--concurrency 64) and
 * each connection and each verification login needs a service ticket.
 * Fired all at once those requests overflow the KDC's listen queue: Samba
 * listens on 88/tcp with a backlog of 10, the kernel drops the SYNs beyond
 * it, and every dropped SYN costs its request a 1 s retransmission (seen:
 * 827 listen overflows and 374 SYN retransmissions in one rotation of
 * 1,000 servers, which then took 13 s instead of 6). The KDC is CPU-bound
 * at a few requests in flight anyway, so callers take a slot around each
 * KDC exchange (krb5_get_credentials) and nowhere else: the round trips to
 * agents and web servers stay fully parallel.
 */
#ifndef KF_KDC_GATE_H
#define KF_KDC_GATE_H

#define KF_KDC_INFLIGHT 8

/* Wait for a slot, then hold it until kf_kdc_gate_leave. Thread-safe. */
void kf_kdc_gate_enter(void);
void kf_kdc_gate_leave(void);

#endif

package logging

// Message ids mark the events an operator alerts on. They go into journald as
// MESSAGE_ID and are explained in packaging/edgepub.catalog; once released an
// id never changes meaning, so fleet queries such as
// `journalctl MESSAGE_ID=…` keep working across versions.
//
// Attach one to a log record with the attribute key MessageIDKey:
//
//	logger.Warn("certificate expires soon", logging.MessageID(logging.MsgCertExpiring), …)
const (
	MsgStarted             = "a15240a839d6490c9686ec1b22c013d4"
	MsgStopping            = "4d21d4d5765943749c08760c1390385b"
	MsgConnected           = "9278c33d5a0b47bb9be163ae4a4074f4"
	MsgDisconnected        = "cbda465c371f446ea81accb0121c2767"
	MsgReadingsDropped     = "6ddde18da0104fe08f4e85364e20232a"
	MsgCertExpiring        = "8347f19c2afe449ea8ed10cf2ceaaf83"
	MsgCertExpired         = "229fc9df866647f1bf638cde4ea097b8"
	MsgSensorFailing       = "83cdeca2791144f88a0aacd28258ead3"
	MsgSensorRecovered     = "a5d39eba4ed946bea37e888c454058df"
	MsgOutboxDamaged       = "be9da58de4a4416699776d33fdb48a56"
	MsgSeqJumped           = "f7ea52dfea484ba4be81dc8846074612"
	MsgLegacyServerCert    = "b5f8e05009f149af96d1a1d4047fdfe0"
	MsgCAKeyOnDevice       = "2324ad9bd7f5448ab6b1107b204efbdc"
	MsgDiskError           = "2797c3faf5344ce7ba98605a721be1ec"
	MsgCertRotated         = "7b8c957f148744bbaf876479bf4b0507"
	MsgDrainFinished       = "d81f88c6c98b4686a52f585a32843690"
	MsgClockSynced         = "68eee01e8fcf4176a32c9c871047fd8d"
	MsgClockUnsynced       = "c0c9f23945554c38b2c064d9f7f4913b"
	MsgClockFloor          = "fa43f7c546c74442a60cad154c5b430a"
	MsgIdentityInUse       = "b019281a15964b9aaa8a80ebe631da06"
	MsgDeliveryUnconfirmed = "2e9ed56701b144c58d924ee66a96980e"
	MsgSlowSync            = "c91552ac2f2c4ecf96c328e4cd9355ab"
)

// Certificate renewal, the signer and revocation (issue 14).
const (
	MsgCertRenewed        = "5c2f8f4b0a7d4e0f9a3c61d2b8e4f107"
	MsgCertRenewalFailed  = "e3a94d0c6f2b4b1a8d5e27c9f0a1b6d3"
	MsgCertRenewalRefused = "9b7d2e41c8a54f6e83b0d5a7c2e9f146"
	MsgSignerReady        = "41e6c3a92b8d4d57a0f4e8b1c7d2a963"
	MsgCSRSigned          = "c8a1f5e27d3b4e9c96b2a0d4f7e3c518"
	MsgCSRRefused         = "2d9e7b4a1f6c4c83b5a0e9d2c7f1a604"
	MsgCertRevoked        = "7f3a0c9e5b2d4a16a8e4c1f7d9b3e052"
	MsgCRLWritten         = "b1d6e8a3c4f24f0d9e7a2b5c8d1f3e69"
	MsgCRLStale           = "6a4c2e8f1d9b4b7ea3c5f0e2d8b7a194"
)

// Package deploy holds what runs dsmd as a system service: dsmd.service, a
// hardened systemd unit, and dsm.sysusers, which creates the user and group
// it runs as. It has no code; its tests check the files with systemd's own
// tools (README.md, Install, says how to use them).
package deploy

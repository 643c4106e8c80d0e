package dparules

// advice is the plugin's cause and fix beside the operator's message.
func advice(rule, version string) (cause, fix string) {
	switch rule {
	case "R01":
		return "OADP " + version + " reconciles no DPA of a namespace that holds two; every one of them fails",
			"delete the other DataProtectionApplications of the namespace, keeping one"
	case "R02":
		return "the DPA has no spec.configuration.velero", "add spec.configuration.velero (setup writes one)"
	case "R03":
		return "restic is the OADP 1.2 spelling of the node agent", "remove spec.configuration.restic and keep spec.configuration.nodeAgent"
	case "R04", "R05":
		return "noDefaultBackupLocation means Velero gets no location from the DPA",
			"either remove noDefaultBackupLocation or remove the backup locations and set backupImages: false"
	case "R06":
		return "a DPA needs a backup location unless noDefaultBackupLocation is set", "add a backup location (setup writes one for its bucket)"
	case "R07", "R08":
		return "each backup location is either a velero location or a bucket (CloudStorage) location", "give the location exactly one of velero or bucket"
	case "R09", "R10", "R20":
		return "image backups need a prefix in the bucket", "set a prefix on the location, or set backupImages: false"
	case "R11", "R13", "R31":
		return "the location names no usable credential", "set credential {name, key}; on STS setup writes {name: cloud-credentials, key: credentials}"
	case "R12", "R38", "C00":
		return "the secret the location reads is missing or lacks the key",
			"create the secret with that key (on STS 'kubectl oadp-sts setup' writes cloud-credentials/credentials), or point the credential at the one that exists"
	case "R14", "C02":
		return "the bucket location names a CloudStorage that does not exist", "create the CloudStorage or correct cloudStorageRef.name"
	case "R15":
		return "OADP 1.5 parses the AWS credential and needs the profile header to read exactly [<profile>]",
			"write the profile as [default] (not [profile default]) with role_arn and web_identity_token_file, or name it in config.profile"
	case "R16", "R24", "R25":
		return "exactly one location must be the default", "set default: true on exactly one location"
	case "R17", "R18":
		return "the location's provider is missing or unknown", "use provider aws (or azure, gcp)"
	case "R19":
		return "the location has no bucket", "set objectStorage.bucket"
	case "R21":
		return "the operator looks the bucket's region up anonymously and that failed (or path-style S3 is on)", "set config.region on the location"
	case "R22":
		return "an Azure location needs its resource group and storage account", "set config.resourceGroup and config.storageAccount"
	case "R26", "R27", "R28", "R29", "R30":
		return "the snapshot location does not fit the operator's rules for its provider",
			"use provider aws with config.region (only region, profile, credentialsFile, enableSharedConfig) and keep the aws plugin in defaultPlugins"
	case "R33":
		return "the node agent's podConfig and loadAffinity disagree", "make loadAffinity one matchLabels entry holding every podConfig.nodeSelector label"
	case "R34", "R35":
		return "the VolSync data mover was removed in OADP 1.3", "remove features.dataMover and the vsm plugin; Velero's built-in data mover replaces them"
	case "R36":
		return "OADP 1.5 removed spec.configuration.restic", "use spec.configuration.nodeAgent with uploaderType kopia"
	case "R36b":
		return "OADP 1.6 removed Restic file-system backup", "set nodeAgent.uploaderType: kopia"
	case "R37":
		return "the only operator-type override is mtc", "remove unsupportedOverrides.operator-type or set it to mtc"
	case "R39":
		return "aws and legacy-aws are two builds of the same plugin", "keep one of them in defaultPlugins"
	case "R40":
		return "the non-admin settings break OADP's rules", "correct the spec.nonAdmin field named"
	case "C01":
		return "the operator builds a registry secret for image backups of each velero-type location; OADP 1.4 reads only access keys from an AWS credential, and a provider written velero.io/... makes a secret name with '/'",
			"set backupImages: false, or use a bucket (CloudStorage) location, or write the provider as plain aws"
	case "A-legacy-aws":
		return "the legacy-aws plugin exists from OADP 1.4; older CRDs refuse it", "use the aws plugin"
	case "C03":
		return "on OADP 1.4 the DPAs of one namespace write the same objects", "keep one DataProtectionApplication per namespace"
	}
	return "", ""
}

# A KMS key with its own key policy, an alias and a grant, a multi-Region key with a replica in
# another Region, and a key with imported material, with Terraform's hashicorp/aws provider against
# Rampart. Start `rampart serve --dev`, then:
#   terraform init && terraform apply && terraform plan   # no changes
#   terraform destroy                                     # the key is scheduled for deletion
# (Checked by hand against hashicorp/aws; see the issue notes.)

variable "endpoint" {
  default = "http://127.0.0.1:4566"
}

terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    kms = var.endpoint
    iam = var.endpoint
    sts = var.endpoint
  }
}

data "aws_caller_identity" "me" {}

resource "aws_iam_role" "app" {
  name = "app"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_kms_key" "data" {
  description             = "application data"
  deletion_window_in_days = 7
  enable_key_rotation     = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Account"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = { team = "data" }
}

resource "aws_kms_alias" "data" {
  name          = "alias/app-data"
  target_key_id = aws_kms_key.data.key_id
}

resource "aws_kms_grant" "app" {
  name              = "app"
  key_id            = aws_kms_key.data.key_id
  grantee_principal = aws_iam_role.app.arn
  operations        = ["Encrypt", "Decrypt", "GenerateDataKey"]
  constraints {
    encryption_context_subset = { app = "billing" }
  }
}

# A multi-Region key and its replica in another Region: the same key id and material, so data
# encrypted in one Region decrypts in the other.
provider "aws" {
  alias                       = "west"
  region                      = "eu-west-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    kms = var.endpoint
    sts = var.endpoint
  }
}

resource "aws_kms_key" "shared" {
  description             = "shared across Regions"
  multi_region            = true
  deletion_window_in_days = 7
}

resource "aws_kms_replica_key" "shared_west" {
  provider                = aws.west
  description             = "replica in eu-west-1"
  primary_key_arn         = aws_kms_key.shared.arn
  deletion_window_in_days = 7
}

# A key whose material comes from outside (here a fixed 256-bit value, for the example only):
# Terraform fetches the wrapping key and import token and imports it.
resource "aws_kms_external_key" "imported" {
  description             = "material from our own HSM"
  key_material_base64     = base64encode("0123456789abcdef0123456789abcdef")
  deletion_window_in_days = 7
}

# A KMS key with its own key policy, an alias and a grant, with Terraform's hashicorp/aws provider
# against Rampart. Start `rampart serve --dev`, then:
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

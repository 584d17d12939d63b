# frozen_string_literal: true

require 'fileutils'
require 'json'
require 'securerandom'

# @summary The secret kept in a root-only file on the host, made there the first time it is asked for.
#
# Meant to run on the host, as a Deferred value (`Deferred('st2::secret', [$path])`): the secret is
# generated and read where it is used, and never reaches the Puppet server, its catalogs or
# PuppetDB. A missing file is created 0600 in a 0700 folder, atomically (O_EXCL: two runs agree on
# one value); an existing one is read back, so the secret is kept across runs.
#
# Kinds: 'password' (32 random letters and digits, about 190 bits; safe in a URL and a shell) or
# 'crypto_key' (a StackStorm datastore key file: AES-256 and HMAC-SHA256 keys, urlsafe base64).
Puppet::Functions.create_function(:'st2::secret') do
  # @param path The file that keeps the secret.
  # @param kind 'password' or 'crypto_key'.
  # @return [Sensitive[String]] The secret (the file's content without surrounding whitespace).
  dispatch :secret do
    param 'Stdlib::Absolutepath', :path
    optional_param 'Enum[password, crypto_key]', :kind
  end

  def secret(path, kind = 'password')
    sensitive = Puppet::Pops::Types::PSensitiveType::Sensitive
    return sensitive.new(read(path)) if File.exist?(path)

    folder = File.dirname(path)
    FileUtils.mkdir_p(File.dirname(folder)) # parents as the umask makes them: /etc/st2 stays readable
    Dir.mkdir(folder, 0o700) unless File.directory?(folder)
    begin
      File.open(path, File::WRONLY | File::CREAT | File::EXCL, 0o600) { |f| f.write(generate(kind)) }
    rescue Errno::EEXIST
      nil # made meanwhile by another run: read that one
    end
    sensitive.new(read(path))
  end

  def read(path)
    value = File.read(path).strip
    raise Puppet::Error, "st2::secret: #{path} is empty: delete it to have a new secret made, or write the secret in it" if value.empty?
    value
  end

  def generate(kind)
    return SecureRandom.alphanumeric(32) if kind == 'password'
    key = ->(bytes) { [bytes].pack('m0').tr('+/', '-_').delete('=') }
    JSON.generate('hmacKey' => { 'hmacKeyString' => key.call(SecureRandom.random_bytes(32)), 'size' => 256 },
                  'aesKeyString' => key.call(SecureRandom.random_bytes(32)), 'mode' => 'CBC', 'size' => 256)
  end
end

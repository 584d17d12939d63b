# frozen_string_literal: true

require_relative '../spec_helper'

describe 'st2::password' do
  it 'returns the given secret' do
    given = Puppet::Pops::Types::PSensitiveType::Sensitive.new('given-secret-1')
    expect(subject.execute(given, '/etc/st2/secrets/x')).to equal(given)
  end

  it 'otherwise defers to st2::secret on the host' do
    deferred = subject.execute(nil, '/etc/st2/secrets/x')
    expect([deferred.name, deferred.arguments]).to eq(['st2::secret', ['/etc/st2/secrets/x']])
  end

  it { is_expected.to run.with_params('not sensitive', '/etc/st2/secrets/x').and_raise_error(%r{Sensitive}) }
  it { is_expected.to run.with_params(nil, 'relative/path').and_raise_error(%r{path}) }
end
